"""Loading the facts of one call from the database: the only module of the policy that does I/O.

A handful of indexed queries (counted in ``facts.debug``):

1. seat + tenant + campaign in one join (by the unique SIP user/domain; campaign by code or the
   seat's default). With ``lock=True`` it is ``FOR UPDATE OF tenant`` on PostgreSQL: the tenant
   row is the lock every reservation and ledger posting of the tenant takes first.
2. (lock=True, PostgreSQL) the callee's advisory lock, for the cross-tenant frequency caps.
3. the tenant's unlifted bans;
4. the leases that could present this callee, each with its live calls and today's use;
5. do-not-call entries (platform and this tenant) for the number;
6. the tenant's unrevoked consent records for the number;
7. attempts at the number: this tenant's in 30 days, everybody's in 24 hours;
8. the tenant's live holds, aggregated: calls on this seat, outbound calls, money held.

Without an identified seat only 5 and 7 (platform scope) run.

Each is a named statement of ``models.sql_statements`` (``facts_*``), prepared once per
connection: peewee's query compiler and PostgreSQL's planner each cost more than these indexed
lookups themselves. ``EXPLAIN`` them with ``bench/admission.py --explain``.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from models import sql_statements as sql
from domain.clock import local_day
from models.seats.seats import SIP_ADDRESS
from models.calls.reservations import lock_callee

from .callee import Callee
from .facts import (
    BanFacts, CampaignFacts, ConsentFacts, DncFacts, Facts, LeaseFacts, SeatFacts, TenantFacts,
)
from .limits import Limits
from .request import CallRequest


def split_address(address: str) -> tuple[str, str] | None:
    match = SIP_ADDRESS.match((address or "").strip())
    return (match.group(1), match.group(2).lower()) if match else None


def _dt(value):
    """Database value to naive UTC datetime (SQLite returns text, PostgreSQL datetimes)."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


class _Counter:
    def __init__(self):
        self.queries = 0

    def __call__(self, result):
        self.queries += 1
        return result


def load_facts(request: CallRequest, callee: Callee, limits: Limits, now: datetime, *, lock: bool = False) -> Facts:
    started = time.perf_counter()
    run = _Counter()
    seat = tenant = campaign = None
    if request.authenticated and request.seat_address:
        parts = split_address(request.seat_address)
        if parts is not None:
            row = run(_seat_row(parts, request.campaign_code, lock))
            if row is not None:
                seat, tenant, campaign = row
    e164 = callee.e164
    if lock and e164 and not callee.emergency:
        run(lock_callee(e164))

    bans = leases = dnc = consents = ()
    tenant_attempts: tuple = ()
    global_attempts: tuple = ()
    seat_live = tenant_live = held = 0
    if tenant is not None:
        bans = run(_bans(tenant.id, now))
        seat_live, tenant_live, held = run(_hold_totals(tenant.id, seat.id, now))
    if tenant is not None and (e164 or callee.emergency):
        leases = run(_leases(tenant.id, callee, seat.pinned_lease_id, limits, now))
    if e164 and not callee.emergency:
        dnc = run(_dnc(e164, tenant.id if tenant else None))
        if tenant is not None:
            consents = run(_consents(tenant.id, e164))
        tenant_attempts, global_attempts = run(_attempts(e164, tenant.id if tenant else None, now))
    return Facts(
        callee=callee, limits=limits, seat=seat, tenant=tenant, campaign=campaign, bans=bans, leases=leases,
        dnc=dnc, consents=consents, tenant_attempts=tenant_attempts, global_attempts=global_attempts,
        seat_live_calls=seat_live, tenant_live_outbound=tenant_live, held_fen=held,
        debug={"queries": run.queries, "load_ms": round((time.perf_counter() - started) * 1000, 3)},
    )


def _seat_row(parts: tuple[str, str], campaign_code: str, lock: bool):
    user, domain = parts
    if campaign_code:
        rows = sql.all("facts_seat_by_code", (campaign_code, user, domain), lock=lock)
    else:
        rows = sql.all("facts_seat_default", (user, domain), lock=lock)
    if not rows:
        return None
    (seat_id, tenant_id, active, valid_from, valid_to, pinned, code, status, industry, approved, purchased, rate,
     fee, increment, balance, windows, campaign_id, campaign_code_, campaign_status, record) = rows[0]
    seat = SeatFacts(id=seat_id, address=f"{user}@{domain}", tenant_id=tenant_id, valid_from=_dt(valid_from),
                     valid_to=_dt(valid_to), active=bool(active), pinned_lease_id=pinned)
    tenant = TenantFacts(id=tenant_id, code=code, status=status, industry=industry or "",
                         industry_approved=bool(approved), seats_purchased=purchased, rate_out_fen=rate,
                         connect_fee_fen=fee, billing_increment_s=increment, balance_fen=int(balance),
                         calling_windows=windows or "")
    campaign = (CampaignFacts(id=campaign_id, code=campaign_code_, status=campaign_status, record=bool(record))
                if campaign_id is not None else None)
    return seat, tenant, campaign


def _bans(tenant_id: int, now: datetime) -> tuple[BanFacts, ...]:
    return tuple(BanFacts(function, _dt(until)) for function, until in sql.all("facts_bans", (tenant_id, now)))


def _hold_totals(tenant_id: int, seat_id: int, now: datetime) -> tuple[int, int, int]:
    on_seat, outbound, held = sql.one("facts_holds", (seat_id, tenant_id, now))
    return int(on_seat or 0), int(outbound or 0), int(held or 0)


def _leases(tenant_id: int, callee: Callee, pinned_id: int | None, limits: Limits, now: datetime):
    params = (now, local_day(now).isoformat(), tenant_id)
    if callee.is_cn and limits.caller_id_local_required and not callee.emergency:
        # only numbers that could present this callee: its province, or the seat's pinned number
        if pinned_id:
            rows = sql.all("facts_leases_local_pinned", (*params, callee.province, pinned_id))
        else:
            rows = sql.all("facts_leases_local", (*params, callee.province))
    else:
        rows = sql.all("facts_leases_all", params)
    return tuple(LeaseFacts(id=i, number=n, province=p or "", city=c or "", paid_through=_dt(paid), max_calls=m,
                            live_calls=int(lv or 0), used_today=int(u or 0))
                 for i, n, p, c, paid, m, lv, u in rows)


def _dnc(e164: str, tenant_id: int | None) -> tuple[DncFacts, ...]:
    if tenant_id is None:
        rows = sql.all("facts_dnc_platform", (e164,))
    else:
        rows = sql.all("facts_dnc", (e164, tenant_id))
    return tuple(DncFacts(scope, _dt(created), _dt(expires)) for scope, created, expires in rows)


def _consents(tenant_id: int, e164: str) -> tuple[ConsentFacts, ...]:
    rows = sql.all("facts_consents", (tenant_id, e164))
    return tuple(ConsentFacts(i, _dt(obtained), _dt(expires)) for i, obtained, expires in rows)


def _attempts(e164: str, tenant_id: int | None, now: datetime):
    day_ago = now - timedelta(hours=24)
    month_ago = now - timedelta(days=30)
    if tenant_id is None:
        rows = sql.all("facts_attempts_platform", (e164, month_ago, day_ago))
    else:
        rows = sql.all("facts_attempts", (e164, month_ago, day_ago, tenant_id))
    own, everyone = [], []
    for who, at in rows:
        at = _dt(at)
        if who == tenant_id:
            own.append(at)
        if at > day_ago:
            everyone.append(at)
    return tuple(own), tuple(everyone)
