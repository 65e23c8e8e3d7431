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
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from peewee import JOIN, Case, fn

from models.attempts import Attempt
from models.calls import Hold
from models.db import is_postgres
from models.lists import Consent, DoNotCall
from models.provisioning import SIP_ADDRESS
from models.reservations import lock_callee
from models.tenancy import Campaign, NumberLease, Seat, Tenant, TenantBan

from .callee import Callee
from .facts import (
    BanFacts, CampaignFacts, ConsentFacts, DncFacts, Facts, LeaseFacts, SeatFacts, TenantFacts,
)
from .hours import CN_ZONE, local_time
from .limits import Limits
from .request import CallRequest


def split_address(address: str) -> tuple[str, str] | None:
    match = SIP_ADDRESS.match((address or "").strip())
    return (match.group(1), match.group(2).lower()) if match else None


def day_start_utc(now: datetime, zone: str = CN_ZONE) -> datetime:
    """Start of the current calendar day in ``zone``, as naive UTC."""
    local = local_time(now, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return now - (local - midnight)


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
    live_by_lease: dict[int, int] = {}
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
        on = (Campaign.tenant == Seat.tenant) & (Campaign.code == campaign_code)
    else:
        on = Campaign.id == Seat.default_campaign
    query = (Seat.select(Seat.id, Seat.tenant, Seat.active, Seat.valid_from, Seat.valid_to, Seat.pinned_number,
                         Tenant.code, Tenant.status, Tenant.industry, Tenant.industry_approved,
                         Tenant.seats_purchased, Tenant.rate_out_fen, Tenant.connect_fee_fen,
                         Tenant.billing_increment_s, Tenant.balance_fen, Tenant.calling_windows,
                         Campaign.id, Campaign.code, Campaign.status, Campaign.record)
             .join(Tenant, on=(Seat.tenant == Tenant.id))
             .switch(Seat)
             .join(Campaign, JOIN.LEFT_OUTER, on=on)
             .where((Seat.sip_user == user) & (Seat.sip_domain == domain))
             .tuples())
    if lock and is_postgres():
        query = query.for_update(of=Tenant)
    row = query.first()
    if row is None:
        return None
    (seat_id, tenant_id, active, valid_from, valid_to, pinned, code, status, industry, approved, purchased, rate,
     fee, increment, balance, windows, campaign_id, campaign_code_, campaign_status, record) = row
    seat = SeatFacts(id=seat_id, address=f"{user}@{domain}", tenant_id=tenant_id, valid_from=valid_from,
                     valid_to=valid_to, active=bool(active), pinned_lease_id=pinned)
    tenant = TenantFacts(id=tenant_id, code=code, status=status, industry=industry or "",
                         industry_approved=bool(approved), seats_purchased=purchased, rate_out_fen=rate,
                         connect_fee_fen=fee, billing_increment_s=increment, balance_fen=int(balance),
                         calling_windows=windows or "")
    campaign = (CampaignFacts(id=campaign_id, code=campaign_code_, status=campaign_status, record=bool(record))
                if campaign_id is not None else None)
    return seat, tenant, campaign


def _bans(tenant_id: int, now: datetime) -> tuple[BanFacts, ...]:
    rows = (TenantBan.select(TenantBan.function, TenantBan.until)
            .where((TenantBan.tenant == tenant_id) & TenantBan.lifted_at.is_null()
                   & (TenantBan.until.is_null() | (TenantBan.until > now)))
            .tuples())
    return tuple(BanFacts(function, until) for function, until in rows)


def _hold_totals(tenant_id: int, seat_id: int, now: datetime) -> tuple[int, int, int]:
    row = (Hold.select(fn.SUM(Case(None, [(Hold.seat == seat_id, 1)], 0)),
                       fn.SUM(Case(None, [(Hold.direction == "outbound", 1)], 0)),
                       fn.SUM(Hold.amount_fen))
           .where((Hold.tenant == tenant_id) & Hold.released_at.is_null() & (Hold.expires_at > now))
           .tuples().first())
    return tuple(int(value or 0) for value in row) if row else (0, 0, 0)


def _leases(tenant_id: int, callee: Callee, pinned_id: int | None, limits: Limits, now: datetime):
    today = day_start_utc(now)
    live = (Hold.select(fn.COUNT(Hold.id))
            .where((Hold.number == NumberLease.id) & Hold.released_at.is_null() & (Hold.expires_at > now)))
    used = Attempt.select(fn.COUNT(Attempt.id)).where((Attempt.caller_lease == NumberLease.id) & (Attempt.at >= today))
    where = (NumberLease.tenant == tenant_id) & NumberLease.released_at.is_null()
    if callee.is_cn and limits.caller_id_local_required and not callee.emergency:
        local = NumberLease.province == callee.province
        where &= (local | (NumberLease.id == pinned_id)) if pinned_id else local
    rows = (NumberLease.select(NumberLease.id, NumberLease.number, NumberLease.province, NumberLease.city,
                               NumberLease.paid_through, NumberLease.max_calls, live.alias("live"), used.alias("used"))
            .where(where).tuples())
    return tuple(LeaseFacts(id=i, number=n, province=p or "", city=c or "", paid_through=paid, max_calls=m,
                            live_calls=int(lv or 0), used_today=int(u or 0)) for i, n, p, c, paid, m, lv, u in rows)


def _dnc(e164: str, tenant_id: int | None) -> tuple[DncFacts, ...]:
    scope = DoNotCall.tenant.is_null()
    if tenant_id is not None:
        scope |= DoNotCall.tenant == tenant_id
    rows = (DoNotCall.select(DoNotCall.scope, DoNotCall.created_at, DoNotCall.expires_at)
            .where((DoNotCall.number == e164) & scope).tuples())
    return tuple(DncFacts(s, c, e) for s, c, e in rows)


def _consents(tenant_id: int, e164: str) -> tuple[ConsentFacts, ...]:
    rows = (Consent.select(Consent.id, Consent.obtained_at, Consent.expires_at)
            .where((Consent.tenant == tenant_id) & (Consent.number == e164) & Consent.revoked_at.is_null())
            .tuples())
    return tuple(ConsentFacts(i, o, e) for i, o, e in rows)


def _attempts(e164: str, tenant_id: int | None, now: datetime):
    day_ago = now - timedelta(hours=24)
    which = Attempt.at > day_ago
    if tenant_id is not None:
        which |= Attempt.tenant == tenant_id
    # the explicit lower bound keeps the (callee_number, at) index range short
    rows = (Attempt.select(Attempt.tenant, Attempt.at)
            .where((Attempt.callee_number == e164) & (Attempt.at > now - timedelta(days=30)) & which)
            .tuples())
    own, everyone = [], []
    for who, at in rows:
        if who == tenant_id:
            own.append(at)
        if at > day_ago:
            everyone.append(at)
    return tuple(own), tuple(everyone)
