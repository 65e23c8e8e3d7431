"""Charging calls exactly once and extending live calls' holds (RULEBOOK A5, B5, C1, C6).

Prices come from ``domain.rating`` only. Every write here runs under the tenant's row lock (the
same lock ``posting.post`` takes), so the balance, the live holds and the charge key are read and
written by one writer at a time per tenant, whichever process or node it runs in. Promotional
credit is spent first (C5, ``ledger.balances``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import rating
from domain.clock import utcnow
from domain.errors import InvalidInput, NotFound
from models import sql_statements as sql
from models.calls import reservations
from models.calls.tables import CallRecord, Hold
from models.db import for_update, is_postgres, write_transaction
from models.ledger import balances, posting
from models.tenancy.tables import Tenant

# --- what a call costs ----------------------------------------------------------------------


def billsec_from_us(talk_us: int) -> int:
    """Billed seconds from talk time in microseconds: whole seconds as FreeSWITCH counts them
    (truncated, so a call cut at its limit is not pushed into the next increment), except that an
    answered call with any talk time bills at least one second (C1: it costs one increment)."""
    if talk_us <= 0:
        return 0
    return max(talk_us // 1_000_000, 1)


def talk_seconds(answered_at: datetime | None, ended_at: datetime | None) -> int:
    if answered_at is None or ended_at is None:
        return 0
    delta = ended_at - answered_at
    return billsec_from_us(delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds)


# RULEBOOK A5 defaults; callers pass settings.emergency_numbers, and forgetting to cannot bill them
DEFAULT_EMERGENCY_NUMBERS = ("110", "119", "120", "122")


def is_emergency(numbers: tuple[str, ...] | list[str], emergency_numbers=None) -> bool:
    """A5: emergency short codes are never billed, whichever form the number was recorded in."""
    codes = set(DEFAULT_EMERGENCY_NUMBERS if emergency_numbers is None else emergency_numbers)
    for number in numbers:
        digits = (number or "").strip()
        if not digits:
            continue
        if digits in codes or (digits.startswith("+86") and digits[3:] in codes):
            return True
    return False


@dataclass(frozen=True)
class Tariff:
    rate_fen: int  # per minute
    increment_s: int
    connect_fee_fen: int

    def charge(self, billsec: int) -> int:
        return rating.call_charge(billsec, self.rate_fen, self.increment_s, self.connect_fee_fen)

    def covered_seconds(self, amount_fen: int) -> int | None:
        """Talk seconds that ``amount_fen`` pays for; None when talk is free (zero rate)."""
        if self.rate_fen <= 0 and self.connect_fee_fen <= 0:
            return None
        return rating.affordable_seconds(amount_fen, self.rate_fen, self.increment_s, self.connect_fee_fen)


def tariff_of(tenant: Tenant, direction: str) -> Tariff:
    rate = tenant.rate_in_fen if direction == "inbound" else tenant.rate_out_fen
    return Tariff(rate, tenant.billing_increment_s or 60, tenant.connect_fee_fen)


def charges_differ(billsec_a: int, billsec_b: int, tariff: Tariff) -> bool:
    """Two measurements of one call disagree when they would bill differently, or when their
    seconds differ by more than the one second that event timing can explain."""
    if (billsec_a > 0) != (billsec_b > 0):
        return True
    if abs(billsec_a - billsec_b) > 1:
        return True
    return (rating.billed_increments(billsec_a, tariff.increment_s)
            != rating.billed_increments(billsec_b, tariff.increment_s))


# --- charging a call exactly once -----------------------------------------------------------

CHARGE_SOURCES = ("app", "cdr")
OPEN_RESULTS = ("admitted", "ringing", "answered")
CAUSE_RESULTS = {
    "USER_BUSY": "busy", "NO_ANSWER": "no_answer", "NO_USER_RESPONSE": "no_answer",
    "ORIGINATOR_CANCEL": "abandoned", "CALL_REJECTED": "rejected",
}


def final_result(answered: bool, hangup_cause: str) -> str:
    if answered:
        return "completed"
    return CAUSE_RESULTS.get((hangup_cause or "").upper(), "failed")


def charge_key(callee_uuid: str) -> str:
    return f"call:{callee_uuid}"


@dataclass(frozen=True)
class ChargeResult:
    callee_uuid: str
    tenant_id: int
    record_id: int
    billsec: int  # what the call is billed on (from the report that settled it)
    charge_fen: int
    charged_now: bool  # this report posted the charge
    duplicate: bool  # the call had already been settled by an earlier report
    record_created: bool
    mismatch: bool
    emergency: bool


def tenant_of_call(callee_uuid: str, agent_uuid: str | None = None) -> int | None:
    record = find_call_record(callee_uuid, agent_uuid)
    if record is not None and record.tenant_id:
        return record.tenant_id
    if agent_uuid:
        hold = Hold.get_or_none(Hold.call_uuid == agent_uuid)
        if hold is not None:
            return hold.tenant_id
        parent = (CallRecord.select(CallRecord.tenant).where(
            (CallRecord.agent_uuid == agent_uuid) & CallRecord.tenant.is_null(False))
            .order_by(CallRecord.id.desc()).first())
        if parent is not None:
            return parent.tenant_id
    return None


# The charge runs at every hangup and for every reconciled CDR. Building SQL through peewee costs
# a few hundred microseconds a statement, so this path uses named statements (models.sql_statements)
# and touches only the columns it needs.

@dataclass
class _TenantRow:
    """A row of statement ``tenant_for_charge``, its columns in order."""
    id: int
    balance_fen: int
    promo_balance_fen: int
    rate_out_fen: int
    rate_in_fen: int
    connect_fee_fen: int
    billing_increment_s: int


def _lock_tenant_row(tenant_id: int) -> _TenantRow | None:
    """The tenant row under the same lock as ``posting.locked_tenant`` (FOR UPDATE on PostgreSQL;
    the IMMEDIATE transaction on SQLite)."""
    row = sql.one("tenant_for_charge", (tenant_id,), lock=True)
    return _TenantRow(*row) if row else None


def _post_locked(tenant: _TenantRow, kind: str, amount_fen: int, promo_fen: int, key: str, call_uuid: str,
                 note: str, actor: str, at: datetime) -> int:
    """Append a ledger entry (``posting.append_locked``) for a tenant row this transaction has
    locked and a key it has checked."""
    entry, tenant.balance_fen, tenant.promo_balance_fen = posting.append_locked(
        tenant.id, tenant.balance_fen, tenant.promo_balance_fen, kind, amount_fen, promo_fen, key=key,
        call_uuid=call_uuid, note=note, actor=actor, at=at)
    return entry.id


@dataclass
class _RecordRow:
    """A call record as ``find_call_record`` reads it: a row of statements ``record_by_callee``
    and ``record_admitted_by_agent``, its columns in order."""
    id: int
    direction: str
    agent_uuid: str
    callee_uuid: str | None
    tenant_id: int | None
    dialled: str
    callee_number: str
    charged: bool
    charge_fen: int
    billsec: int
    cdr_billsec: int | None
    cdr_mismatch: bool
    result: str
    hangup_cause: str
    answered_at: datetime | None
    ended_at: datetime | None
    max_duration_s: int | None


def find_call_record(callee_uuid: str, agent_uuid: str | None, *, lock: bool = False) -> _RecordRow | None:
    """The one lookup of a call's record: by its callee-leg uuid, else the admission record of
    the agent leg ``agent_uuid`` (it exists before the callee leg has a uuid of its own)."""
    row = sql.one("record_by_callee", (callee_uuid,), lock=lock)
    if row is None and agent_uuid:
        row = sql.one("record_admitted_by_agent", (agent_uuid,), lock=lock)
    if row is None:
        return None
    record = _RecordRow(*row)
    record.charged, record.cdr_mismatch = bool(record.charged), bool(record.cdr_mismatch)
    record.answered_at = CallRecord.answered_at.python_value(record.answered_at)
    record.ended_at = CallRecord.ended_at.python_value(record.ended_at)
    return record


def _locked_record(callee_uuid: str, agent_uuid: str | None, tenant_id: int | None,
                   new_record: dict) -> tuple[_RecordRow, _TenantRow, bool]:
    """The call's record and its tenant's row under the tenant's lock: (record, tenant, created).
    A call with no record yet (a CDR of a call the app never saw) gets one made of ``new_record``."""
    record = find_call_record(callee_uuid, agent_uuid)
    resolved = record.tenant_id if record is not None and record.tenant_id else tenant_id
    if resolved is None:
        resolved = tenant_of_call(callee_uuid, agent_uuid)
    tenant = _lock_tenant_row(resolved) if resolved is not None else None
    if tenant is None:
        raise NotFound("cannot find the tenant of call %(callee_uuid)s", callee_uuid=callee_uuid)
    if record is not None and is_postgres():
        record = find_call_record(callee_uuid, agent_uuid, lock=True)  # as it is now that we hold the lock
    if record is not None:
        return record, tenant, False
    sql.insert_row(CallRecord, dict(new_record, tenant=tenant.id))
    return find_call_record(callee_uuid, None), tenant, True


def _flow_changes(record: _RecordRow, record_changes: dict | None, callee_uuid: str) -> dict:
    """The flow's own ``record_changes`` as column values, on the record of this callee leg only
    (``result`` and ``hangup_cause`` also on ``record``, as if written before the charge)."""
    changes: dict = {}
    if not record_changes or record.callee_uuid != callee_uuid:
        return changes
    for name, value in record_changes.items():
        field = CallRecord._meta.fields[name]
        changes[field.column_name] = field.db_value(value)
        if name in ("result", "hangup_cause"):
            setattr(record, name, value)
    return changes


def _measurement_changes(record: _RecordRow, changes: dict, *, settles: bool, billsec: int, amount: int,
                         answered_at: datetime | None, ended_at: datetime | None, hangup_cause: str) -> int:
    """Add to ``changes`` what this report says about the call's times, cause and result; returns
    the seconds the call is billed on. The report that settles the call is what it is billed on;
    a later one only fills in what is still missing."""
    if settles:
        changes.update(billsec=billsec, billed_minutes=rating.billed_minutes(billsec), charge_fen=amount,
                       charged=True)
        if answered_at is not None:
            changes["answered_at"] = answered_at
        if ended_at is not None:
            changes["ended_at"] = ended_at
        billed_billsec = billsec
    else:
        billed_billsec = record.billsec
        if record.answered_at is None and answered_at is not None:
            changes["answered_at"] = answered_at
        if record.ended_at is None and ended_at is not None:
            changes["ended_at"] = ended_at
    if hangup_cause and not record.hangup_cause:
        changes["hangup_cause"] = hangup_cause
    if record.result in OPEN_RESULTS:
        changes["result"] = final_result(billed_billsec > 0, hangup_cause or record.hangup_cause)
    return billed_billsec


def _cdr_mismatch(record: _RecordRow, *, source: str, billsec: int, settled_before: bool, charged_now: bool,
                  tariff: Tariff) -> bool:
    """Whether the app's and FreeSWITCH's measurements of the call disagree (C6), now that this
    report has arrived; flagged for the operator, never charged twice."""
    if source == "cdr":
        if settled_before and not charged_now and record.cdr_billsec is None:
            return charges_differ(record.billsec, billsec, tariff)  # the app settled it
        if charged_now and settled_before:
            return True  # the app rated it zero, FreeSWITCH says it was answered
        return record.cdr_mismatch
    if record.cdr_billsec is not None:
        return charges_differ(billsec, record.cdr_billsec, tariff)
    return record.cdr_mismatch


def charge_call(callee_uuid: str, *, source: str, answered_at: datetime | None, ended_at: datetime | None,
                billsec: int | None = None, agent_uuid: str | None = None, tenant_id: int | None = None,
                direction: str | None = None, hangup_cause: str = "", caller_number: str = "",
                callee_number: str = "", dialled: str = "", emergency_numbers=None, node: str = "",
                started_at: datetime | None = None, at: datetime | None = None,
                record_changes: dict | None = None, release_at: datetime | None = None) -> ChargeResult:
    """Settle one call from one report of it (the app at hangup, or a FreeSWITCH CDR).

    ``record_changes`` (CallRecord field name -> value): fields the flow would otherwise write
    with its own update just before the charge, written in this transaction instead, as if
    written first (the charge's own changes win; only on a record that already carries
    ``callee_uuid``, as ``flows.common.update_record(callee_uuid=...)`` would). ``release_at``:
    also end the reservation of the agent leg ``agent_uuid`` (``reservations.release``) in this
    transaction, once the charge is posted.

    One transaction: find or create the call record, rate it, post ``call:<callee uuid>`` to the
    ledger, update the record, and turn the agent leg's hold into the charge (its amount drops to
    zero; the seat and number slots stay for ``reservations.release``). Whatever arrives twice,
    late or out of order, the call is charged once:

    * the first report that rates the call above zero posts the charge; later reports change no
      money (a zero-rated report does not lock the call, so an app that missed the answer cannot
      hide a call FreeSWITCH says was answered);
    * a CDR stores its seconds in ``cdr_billsec``; when app and CDR disagree (``charges_differ``)
      the record is flagged ``cdr_mismatch`` for the operator instead of being charged again.
    """
    if source not in CHARGE_SOURCES:
        raise InvalidInput("unknown charge source %(source)r", source=source)
    if not callee_uuid:
        raise InvalidInput("a call is charged by its callee-leg uuid: none given")
    at = at or utcnow()
    if billsec is None:
        billsec = talk_seconds(answered_at, ended_at)
    with write_transaction():
        record, tenant, record_created = _locked_record(callee_uuid, agent_uuid, tenant_id, dict(
            direction=direction or "outbound", agent_uuid=agent_uuid or callee_uuid, callee_uuid=callee_uuid,
            caller_number=caller_number, callee_number=callee_number, dialled=dialled, decision="allowed",
            result="admitted", node=node, created_at=started_at or answered_at or ended_at or at))
        direction = record.direction or direction or "outbound"
        tariff = tariff_of(tenant, direction)
        emergency = is_emergency((record.dialled, record.callee_number, dialled, callee_number), emergency_numbers)
        amount = 0 if emergency else tariff.charge(billsec)

        changes = _flow_changes(record, record_changes, callee_uuid) if not record_created else {}
        if record.callee_uuid != callee_uuid:
            changes["callee_uuid"] = callee_uuid
        if record.tenant_id is None:
            changes["tenant_id"] = tenant.id
        key = charge_key(callee_uuid)
        posted = sql.one("ledger_entry_by_key", (key,)) is not None
        settled_before = record.charged or posted

        charged_now = False
        if not posted and amount > 0:
            promo = max(min(amount, tenant.promo_balance_fen), 0)  # promotional credit first (C5)
            _post_locked(tenant, "call", -amount, -promo, key, callee_uuid, f"{billsec} s {direction}",
                         f"metering:{source}", at)
            charged_now = True
        settles = charged_now or not settled_before
        billed_billsec = _measurement_changes(record, changes, settles=settles, billsec=billsec, amount=amount,
                                              answered_at=answered_at, ended_at=ended_at, hangup_cause=hangup_cause)
        if source == "cdr":
            changes["cdr_billsec"] = billsec
        mismatch = _cdr_mismatch(record, source=source, billsec=billsec, settled_before=settled_before,
                                 charged_now=charged_now, tariff=tariff)
        if mismatch != record.cdr_mismatch:
            changes["cdr_mismatch"] = mismatch
        if changes:
            sql.update_row("call_record", record.id, changes)

        if settles and record.agent_uuid:
            # the money this hold guarded is now a posted charge (or was not needed)
            sql.run("hold_charged", (record.agent_uuid,))

        if release_at is not None and agent_uuid:
            reservations.release_locked(agent_uuid, release_at, originated=True)

        return ChargeResult(callee_uuid=callee_uuid, tenant_id=tenant.id, record_id=record.id,
                            billsec=billed_billsec, charge_fen=amount if settles else record.charge_fen,
                            charged_now=charged_now, duplicate=settled_before and not charged_now,
                            record_created=record_created, mismatch=mismatch, emergency=emergency)


# --- live calls: extending the hold (B5) ----------------------------------------------------


@dataclass(frozen=True)
class HoldCover:
    """What a live call's hold pays for after an extension attempt."""

    found: bool  # an active hold exists for the agent leg
    lapsed: bool  # the hold exists but its lease ran out: its slots may be another call's now
    hold_fen: int
    added_fen: int
    covered_s: int | None  # talk seconds from answer that the hold pays for; None = not limited by money
    allowed_end: datetime | None  # answered_at + covered_s (None when unanswered or unlimited)


def extend_hold(agent_uuid: str, *, answered_at: datetime | None, direction: str, lookahead_s: int,
                lease_s: int, at: datetime | None = None) -> HoldCover:
    """Grow the agent leg's hold so it pays for talk up to ``at + lookahead_s``, as far as the
    tenant's available balance (balance minus every other live hold) allows, in whole increments.

    An active hold never shrinks, so an allowed end once given never moves earlier. A hold whose
    lease lapsed is not revived (``reservations.heartbeat`` fails closed the same way: its seat
    and number slots may have gone to another call). The lease is renewed to at least
    ``at + lease_s``, so an extension is also a heartbeat.
    """
    at = at or utcnow()
    with write_transaction():
        hold = Hold.get_or_none(Hold.call_uuid == agent_uuid)
        if hold is None or hold.released_at is not None:
            return HoldCover(False, False, 0, 0, 0, None)
        tenant = posting.locked_tenant(hold.tenant_id)
        hold = for_update(Hold.select().where(Hold.id == hold.id)).get()
        if hold.released_at is not None or hold.expires_at <= at:
            return HoldCover(False, hold.released_at is None, 0, 0, 0, None)
        tariff = tariff_of(tenant, direction or hold.direction)
        current = hold.amount_fen
        elapsed_us = 0
        if answered_at is not None and at > answered_at:
            delta = at - answered_at
            elapsed_us = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
        wanted_s = rating.ceil_div(elapsed_us, 1_000_000) + lookahead_s
        wanted_s = rating.billed_increments(wanted_s, tariff.increment_s) * tariff.increment_s
        new_amount = current
        if tariff.charge(wanted_s) > current:
            room = tenant.balance_fen - balances.held_fen(tenant.id, at, exclude_hold_id=hold.id)
            affordable = tariff.covered_seconds(max(room, 0))
            grant_s = wanted_s if affordable is None else min(affordable, wanted_s)
            if grant_s > 0:
                new_amount = max(current, tariff.charge(grant_s))
        expires_at = max(hold.expires_at, at + timedelta(seconds=lease_s))
        Hold.update(amount_fen=new_amount, expires_at=expires_at).where(Hold.id == hold.id).execute()
        covered = tariff.covered_seconds(new_amount)
        allowed_end = None
        if covered is not None and answered_at is not None:
            allowed_end = answered_at + timedelta(seconds=covered)
        return HoldCover(True, False, new_amount, new_amount - current, covered, allowed_end)
