"""Reservations of live calls: seat slot, number slot, balance hold and frequency attempt.

A reservation is a ``Hold`` row (and for an outbound call an ``Attempt`` row). It counts against
the seat, the number, the tenant's concurrency and the tenant's available balance while
``released_at`` is null and ``expires_at > now``:

* ``Hold.amount_fen`` is money set aside for the call; the tenant's available balance is
  ``balance_fen`` minus the amounts of its live holds. Admission holds the minimum charge (first
  increment plus connect fee); the charging session grows it (``billing.extend_hold``) while the
  call lasts.
* ``Hold.expires_at`` is a lease: the owning process pushes it forward with ``heartbeat`` (every
  ``hold_extend_interval_s``, lease ``hold_lease_s``). A process that dies stops heartbeating and
  its holds stop counting by themselves at ``expires_at``; ``expire`` later marks them released.

Locking protocol, the same for every writer so limits hold across processes and nodes: inside
``write_transaction()`` lock the tenant row first (``lock_tenant``; ledger postings do the same),
then, for outbound calls, the callee (``lock_callee``: a transaction-scoped advisory lock on
PostgreSQL; on SQLite the IMMEDIATE transaction already serialises every writer). Then read the
counts, decide, and write: whoever holds the locks sees every reservation committed before.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from models import sql_statements as sql
from models.calls.attempts import count_lease_use, uncount_lease_use
from models.calls.tables import Attempt, Hold
from models.db import is_postgres, write_transaction
from models.ledger import balances
from models.seats.tables import NumberLease
from models.sql_statements import insert_row
from models.tenancy.tables import Tenant


def lock_tenant(tenant_id: int) -> Tenant | None:
    query = Tenant.select().where(Tenant.id == tenant_id)
    return (query.for_update() if is_postgres() else query).first()


def callee_lock_key(number: str) -> int:
    """A stable signed 64-bit key for the callee's advisory lock (a collision only serialises more)."""
    return int.from_bytes(hashlib.blake2b(number.encode(), digest_size=8).digest(), "big", signed=True)


def lock_callee(number: str) -> None:
    if is_postgres():
        sql.run("callee_lock", (callee_lock_key(number),))


def take(*, call_uuid: str, tenant_id: int, seat_id: int | None, lease_id: int | None, callee_number: str,
         amount_fen: int, now: datetime, lease_s: int, node: str = "", count_attempt: bool = True) -> Hold:
    """Write the reservation. The caller holds the locks and has re-checked the limits under them."""
    expires = now + timedelta(seconds=lease_s)
    hold_id = insert_row(Hold, dict(call_uuid=call_uuid, tenant=tenant_id, seat=seat_id, number=lease_id,
                                    callee_number=callee_number, direction="outbound", amount_fen=amount_fen,
                                    node=node, created_at=now, expires_at=expires))
    if count_attempt:
        insert_row(Attempt, dict(call_uuid=call_uuid, tenant=tenant_id, callee_number=callee_number,
                                 caller_lease=lease_id, at=now))
        if lease_id is not None:
            count_lease_use(lease_id, now)
    return Hold(id=hold_id, call_uuid=call_uuid, tenant=tenant_id, amount_fen=amount_fen, expires_at=expires,
                created_at=now)


def release(call_uuid: str, now: datetime, *, originated: bool = True) -> bool:
    """End the reservation; True when a live hold was released. ``originated=False`` when the
    callee leg was never created: the attempt then does not count for frequency (A9)."""
    with write_transaction():
        return release_locked(call_uuid, now, originated=originated)


def release_locked(call_uuid: str, now: datetime, *, originated: bool = True, lapsed_only: bool = False) -> bool:
    """``release`` inside the caller's write transaction (the hangup charge ends it in its own):
    the one place a reservation ends. ``lapsed_only`` (the periodic ``expire``): only a hold whose
    lease ran out by ``now``, released at its expiry, when it stopped counting."""
    if lapsed_only:
        released = sql.run("hold_release_lapsed", (call_uuid, Hold.expires_at.db_value(now))).rowcount
    else:
        released = sql.run("hold_release", (Hold.released_at.db_value(now), call_uuid)).rowcount
    if not originated:
        uncounted = sql.one("attempt_uncount", (call_uuid,))
        if uncounted is not None and uncounted[0] is not None:
            uncount_lease_use(uncounted[0], Attempt.at.python_value(uncounted[1]))
    return released > 0


def heartbeat(call_uuid: str, now: datetime, lease_s: int) -> bool:
    """Push the lease forward. False when the hold is released or already expired: its slots may
    have been given to another call, so the caller must end the call (fail closed)."""
    cursor = sql.run("hold_heartbeat", (Hold.expires_at.db_value(now + timedelta(seconds=lease_s)), call_uuid,
                                        Hold.expires_at.db_value(now)))
    return cursor.rowcount > 0


def extend(call_uuid: str, add_fen: int, now: datetime) -> bool:
    """Hold ``add_fen`` more for a live call if the tenant's available balance allows (B5)."""
    if add_fen < 0:
        raise ValueError("a hold only grows; release it to give money back")
    with write_transaction():
        hold = Hold.get_or_none(Hold.call_uuid == call_uuid)
        if hold is None or hold.released_at is not None or hold.expires_at <= now:
            return False
        tenant = lock_tenant(hold.tenant_id)
        if balances.available(tenant, now).available_fen < add_fen:
            return False
        Hold.update(amount_fen=Hold.amount_fen + add_fen).where(Hold.id == hold.id).execute()
    return True


def unreleased(call_uuid: str) -> bool:
    """The call's reservation has not ended yet (live or lapsed, but not released)."""
    return Hold.select().where((Hold.call_uuid == call_uuid) & Hold.released_at.is_null()).exists()


def busy_seats(tenant_id: int, now: datetime):
    """A subquery of the tenant's seats in a live call."""
    return Hold.select(Hold.seat).where(Hold.seat.is_null(False) & (Hold.tenant == tenant_id) & Hold.live_at(now))


def reserve_inbound(call_uuid: str, lease: NumberLease, now: datetime, lease_s: int, node: str = "") -> bool:
    """A number slot for an inbound call (A10 counts inbound and outbound together). False when
    the number already carries ``max_calls`` live calls."""
    with write_transaction():
        lock_tenant(lease.tenant_id)
        busy = Hold.select().where((Hold.number == lease.id) & Hold.live_at(now)).count()
        if busy >= lease.max_calls:
            return False
        Hold.insert(call_uuid=call_uuid, tenant=lease.tenant_id, number=lease.id, direction="inbound",
                    node=node, created_at=now, expires_at=now + timedelta(seconds=lease_s)).execute()
    return True


def expire(now: datetime) -> int:
    """Mark holds whose lease ran out as released at their expiry (the periodic clean-up); they
    already stopped counting at ``expires_at``. Returns how many."""
    with write_transaction():
        lapsed = [call_uuid for (call_uuid,) in Hold.select(Hold.call_uuid).where(
            Hold.released_at.is_null() & (Hold.expires_at <= now)).tuples()]
        return sum(release_locked(call_uuid, now, lapsed_only=True) for call_uuid in lapsed)
