"""Provisioning: tenants, seats, number leases, campaigns and top-ups.

The CLI and the web admin both call these functions, so validation lives here once. Every
function validates all of its input before it writes anything and raises InvalidInput with a
one-line message; writes happen in one transaction and are audited.
"""
from __future__ import annotations

import re
from datetime import timedelta

from peewee import fn

from . import ledger, recurring
from domain import bounds
from .audit import audit
from domain.bounds import Bound, check_time
from domain.clock import utcnow
from .db import write_transaction
from domain.errors import ForeignReference, InvalidInput, NotFound
from domain.numbers import normalize, region_of
from .screening import screen_script
from .sip_credentials import DEFAULT_SIP_BASE_DOMAIN, check_domain, default_domain
from .tenancy import (
    BAN_FUNCTIONS, INBOUND_MODES, SEAT_ROLES, TENANT_STATUSES, Campaign, NumberLease, Seat, Tenant,
    TenantBan,
)
from domain.windows import format_windows, parse_windows, within

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SIP_ADDRESS = re.compile(r"^([A-Za-z0-9_.+-]{1,100})@([A-Za-z0-9.-]{1,200})$")

# Allowed status changes (A1): terminated is final.
STATUS_TRANSITIONS = {
    "pending_review": {"active", "terminated"},
    "active": {"suspended", "terminated"},
    "suspended": {"active", "terminated"},
    "terminated": set(),
}


def _code(value: str, what: str) -> str:
    if not isinstance(value, str) or not CODE_PATTERN.match(value):
        raise InvalidInput("invalid %(what)s code %(value)r: use letters, digits, '_', '-', '.' (max 64)", what=what, value=value)
    return value


def _text(value: str, what: str, max_length: int = 200) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput("%(what)s must not be empty", what=what)
    if len(value) > max_length:
        raise InvalidInput("%(what)s is longer than %(max_length)s characters", what=what, max_length=max_length)
    return value


def _fen(value, what: str, bound: Bound = bounds.PRICE_FEN) -> int:
    """Whole fen inside ``bound`` (a price by default; bounds.AMOUNT_FEN for a payment)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("%(what)s must be a whole number of fen", what=what)
    return bound.check(value, what)


def get_tenant(code: str) -> Tenant:
    tenant = Tenant.get_or_none(Tenant.code == code)
    if tenant is None:
        raise NotFound("unknown tenant %(code)r", code=code)
    return tenant


def get_campaign(tenant: Tenant, code: str) -> Campaign:
    campaign = Campaign.get_or_none((Campaign.tenant == tenant) & (Campaign.code == code))
    if campaign is None:
        raise ForeignReference("campaign", code, tenant.code, "unknown campaign %(code)r of tenant %(tenant_code)s", code=code, tenant_code=tenant.code)
    return campaign


def split_sip_address(address: str) -> tuple[str, str]:
    match = SIP_ADDRESS.match((address or "").strip())
    if not match:
        raise InvalidInput("invalid seat %(address)r: expected USER@DOMAIN", address=address)
    return match.group(1), match.group(2).lower()


def get_seat(address: str) -> Seat:
    user, domain = split_sip_address(address)
    seat = Seat.get_or_none((Seat.sip_user == user) & (Seat.sip_domain == domain))
    if seat is None:
        raise NotFound("unknown seat %(address)r", address=address)
    return seat


# --- tenants --------------------------------------------------------------------------------


def add_tenant(code: str, *, name: str, display_name: str, hotline: str, seats: int, rate: int,
               inbound_rate: int | None = None, connect_fee: int = 0, industry: str = "",
               seat_rent: int = 0, billing_increment_s: int = 60, region: str = "CN",
               sip_domain: str | None = None, sip_base_domain: str = DEFAULT_SIP_BASE_DOMAIN,
               actor: str = "system") -> Tenant:
    """A new tenant; its SIP domain is ``sip_domain`` or ``<code>.<sip_base_domain>``."""
    code = _code(code, "tenant")
    domain = check_domain(sip_domain) if sip_domain else default_domain(code, sip_base_domain)
    fields = dict(
        code=code,
        sip_domain=domain,
        name=_text(name, "name"),
        display_name=_text(display_name, "display name", 60),
        hotline=normalize(hotline, region),
        seats_purchased=bounds.SEATS.check(seats, "seats"),
        rate_out_fen=_fen(rate, "rate"),
        rate_in_fen=_fen(rate if inbound_rate is None else inbound_rate, "inbound rate"),
        connect_fee_fen=_fen(connect_fee, "connect fee"),
        seat_rent_fen=_fen(seat_rent, "seat rent"),
        billing_increment_s=bounds.BILLING_INCREMENT_S.check(billing_increment_s, "billing increment"),
        industry=(industry or "").strip().lower(),
    )
    with write_transaction():
        if Tenant.select().where(Tenant.code == code).exists():
            raise InvalidInput("tenant %(code)r already exists", code=code)
        if domain_owner(domain) is not None:
            raise InvalidInput("SIP domain %(domain)s belongs to another tenant", domain=domain)
        tenant = Tenant.create(**fields)
        audit(actor, "tenant.add", tenant=tenant, target=code)
    return tenant


def set_tenant(code: str, *, status: str | None = None, seats: int | None = None, rate: int | None = None,
               inbound_rate: int | None = None, connect_fee: int | None = None,
               industry_approved: bool | None = None, windows: str | None = None,
               platform_windows=None, termination_kind: str = "", sip_domain: str | None = None,
               display_name: str | None = None, hotline: str | None = None, seat_rent: int | None = None,
               region: str = "CN", actor: str = "system") -> Tenant:
    tenant = get_tenant(code)
    changes: dict = {}
    if display_name is not None:
        changes["display_name"] = _text(display_name, "display name", 60)
    if hotline is not None:
        changes["hotline"] = normalize(hotline, region)
    new_domain = check_domain(sip_domain) if sip_domain is not None else None
    if status is not None:
        if status not in TENANT_STATUSES:
            raise InvalidInput("invalid status %(status)r: expected one of %(choices)s", status=status,
                               choices=", ".join(TENANT_STATUSES))
        if status != tenant.status:
            if status not in STATUS_TRANSITIONS[tenant.status]:
                raise InvalidInput("tenant %(code)s cannot go from %(tenant_status)s to %(status)s", code=code, tenant_status=tenant.status, status=status)
            changes.update(status=status, status_changed_at=utcnow())
            if status == "terminated":
                changes.update(terminated_at=utcnow(), termination_kind=termination_kind)
    if seats is not None:
        used = Seat.select().where((Seat.tenant == tenant) & Seat.active).count()
        if bounds.SEATS.check(seats, "seats") < used:
            raise InvalidInput("tenant %(code)s has %(used)s seats in use; cannot set purchased seats to %(seats)s", code=code, used=used, seats=seats)
        changes["seats_purchased"] = seats
    if rate is not None:
        changes["rate_out_fen"] = _fen(rate, "rate")
    if inbound_rate is not None:
        changes["rate_in_fen"] = _fen(inbound_rate, "inbound rate")
    if connect_fee is not None:
        changes["connect_fee_fen"] = _fen(connect_fee, "connect fee")
    if seat_rent is not None:
        changes["seat_rent_fen"] = _fen(seat_rent, "seat rent")
    if industry_approved is not None:
        changes["industry_approved"] = bool(industry_approved)
    if windows is not None:
        if windows.strip() == "":
            changes["calling_windows"] = ""  # back to the platform windows
        else:
            try:
                parsed = parse_windows(windows)
            except ValueError as exc:
                raise InvalidInput("invalid windows %(windows)r: %(exc)s", windows=windows, exc=exc) from None
            if platform_windows is not None and not within(parsed, platform_windows):
                raise InvalidInput("windows %(windows)s are wider than the platform's %(platform)s: a tenant may only narrow them",
                                   windows=format_windows(parsed), platform=format_windows(platform_windows))
            changes["calling_windows"] = format_windows(parsed)
    if not changes and new_domain is None:
        raise InvalidInput("nothing to change: give at least one option")
    with write_transaction():
        if new_domain is not None:
            claim_domain(tenant, new_domain, actor=actor)
        if changes:
            Tenant.update(**changes).where(Tenant.id == tenant.id).execute()
        audit(actor, "tenant.set", tenant=tenant, target=code,
              **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in changes.items()})
    return Tenant.get_by_id(tenant.id)


def ban_tenant(code: str, *, function: str, until, reason: str = "", actor: str = "system",
               now=None) -> TenantBan:
    tenant = get_tenant(code)
    now = now or utcnow()
    if function not in BAN_FUNCTIONS:
        raise InvalidInput("invalid function %(function)r: expected one of %(choices)s", function=function,
                           choices=", ".join(BAN_FUNCTIONS))
    check_time(until, "the ban's end time")
    if until is not None and until <= now:
        raise InvalidInput("the ban's end time is in the past")
    with write_transaction():
        ban = TenantBan.create(tenant=tenant, function=function, until=until, reason=reason or "",
                               created_by=actor, created_at=now)
        audit(actor, "tenant.ban", tenant=tenant, target=code, function=function,
              until=until.isoformat() if until else None, reason=reason)
    return ban


def lift_ban(code: str, function: str, *, actor: str = "system", now=None) -> int:
    tenant = get_tenant(code)
    now = now or utcnow()
    with write_transaction():
        lifted = (TenantBan.update(lifted_at=now)
                  .where((TenantBan.tenant == tenant) & (TenantBan.function == function)
                         & TenantBan.lifted_at.is_null()
                         & (TenantBan.until.is_null() | (TenantBan.until > now)))
                  .execute())
        if not lifted:
            raise InvalidInput("tenant %(code)s has no active %(function)s ban", code=code, function=function)
        audit(actor, "tenant.unban", tenant=tenant, target=code, function=function)
    return lifted


def active_bans(tenant: Tenant, now=None) -> list[TenantBan]:
    now = now or utcnow()
    return list(TenantBan.select().where(
        (TenantBan.tenant == tenant) & TenantBan.lifted_at.is_null()
        & (TenantBan.until.is_null() | (TenantBan.until > now))).order_by(TenantBan.created_at))


# --- seats ----------------------------------------------------------------------------------


# --- number leases --------------------------------------------------------------------------


def lease_number(tenant_code: str, number: str, *, days: int = 30, monthly_fee: int = 0,
                 max_calls: int = 1, inbound_mode: str = "simultaneous", region: str = "CN",
                 period_days: int = 30, actor: str = "system") -> NumberLease:
    tenant = get_tenant(tenant_code)
    e164 = normalize(number, region)
    bounds.DAYS.check(days, "days")
    _fen(monthly_fee, "monthly fee")
    bounds.NUMBER_MAX_CALLS.check(max_calls, "max calls")
    if inbound_mode not in INBOUND_MODES:
        raise InvalidInput("invalid inbound mode %(inbound_mode)r", inbound_mode=inbound_mode)
    province, city = region_of(e164)
    now = utcnow()
    fields = dict(tenant=tenant, province=province, city=city, leased_at=now,
                  paid_through=now + timedelta(days=days), monthly_fee_fen=monthly_fee,
                  max_calls=max_calls, inbound_mode=inbound_mode, released_at=None)
    with write_transaction():
        existing = NumberLease.get_or_none(NumberLease.number == e164)
        if existing is not None and existing.released_at is None and existing.paid_through > now:
            raise InvalidInput("%(number)s is already leased to this tenant until %(until)s"
                               if existing.tenant_id == tenant.id else
                               "%(number)s is already leased to another tenant until %(until)s",
                               number=e164, until=existing.paid_through)
        if existing is not None:
            NumberLease.update(**fields).where(NumberLease.id == existing.id).execute()
            lease = NumberLease.get_by_id(existing.id)
        else:
            lease = NumberLease.create(number=e164, **fields)
        recurring.charge_number_purchase(lease, days, period_days, actor=actor)  # C3: from the payment day
        audit(actor, "number.lease", tenant=tenant, target=e164, days=days, monthly_fee_fen=monthly_fee)
    return lease


def get_lease(tenant_code: str, number: str, *, region: str = "CN") -> tuple[Tenant, NumberLease]:
    """The tenant's lease of ``number`` (released or not); another tenant's number is not found."""
    tenant = get_tenant(tenant_code)
    e164 = normalize(number, region)
    lease = NumberLease.get_or_none((NumberLease.number == e164) & (NumberLease.tenant == tenant))
    if lease is None:
        raise ForeignReference("number", e164, tenant.code, "%(number)s is not leased to tenant %(tenant_code)s",
                               number=e164, tenant_code=tenant.code)
    return tenant, lease


def release_number(tenant_code: str, number: str, *, region: str = "CN", actor: str = "system",
                   now=None) -> NumberLease:
    """Give a leased number back: it stops being a caller ID at once (A10), is not renewed, and
    seats pinned to it are unpinned. Its paid rent is not refunded (a service already bought, as
    at termination, C4). Calls already up on it go on to their end."""
    tenant, lease = get_lease(tenant_code, number, region=region)
    if lease.released_at is not None:
        raise InvalidInput("%(number)s was already released", number=lease.number)
    now = now or utcnow()
    with write_transaction():
        NumberLease.update(released_at=now, auto_renew=False).where(NumberLease.id == lease.id).execute()
        unpinned = Seat.update(pinned_number=None).where(Seat.pinned_number == lease.id).execute()
        audit(actor, "number.release", tenant=tenant, target=lease.number, seats_unpinned=unpinned)
    return NumberLease.get_by_id(lease.id)


def set_number(tenant_code: str, number: str, *, max_calls: int | None = None, inbound_mode: str | None = None,
               region: str = "CN", actor: str = "system") -> NumberLease:
    """Change a lease's live-call limit (A10) or how its inbound calls ring the seats."""
    tenant, lease = get_lease(tenant_code, number, region=region)
    changes: dict = {}
    if max_calls is not None:
        changes["max_calls"] = bounds.NUMBER_MAX_CALLS.check(max_calls, "max calls")
    if inbound_mode is not None:
        if inbound_mode not in INBOUND_MODES:
            raise InvalidInput("invalid inbound mode %(mode)r: expected one of %(choices)s", mode=inbound_mode,
                               choices=", ".join(INBOUND_MODES))
        changes["inbound_mode"] = inbound_mode
    if not changes:
        raise InvalidInput("nothing to change: give at least one option")
    if lease.released_at is not None:
        raise InvalidInput("%(number)s was released; lease it again first", number=lease.number)
    with write_transaction():
        NumberLease.update(**changes).where(NumberLease.id == lease.id).execute()
        audit(actor, "number.set", tenant=tenant, target=lease.number, **changes)
    return NumberLease.get_by_id(lease.id)


# --- campaigns ------------------------------------------------------------------------------


def add_campaign(tenant_code: str, code: str, *, script: str, record: bool = True,
                 keyword_categories=None, auto_approve_clean: bool = False, name: str = "",
                 actor: str = "system") -> Campaign:
    tenant = get_tenant(tenant_code)
    code = _code(code, "campaign")
    script = _text(script, "script", 20000)
    hits = screen_script(script, keyword_categories or {})
    status = "approved" if (auto_approve_clean and not hits) else "review"
    with write_transaction():
        if Campaign.select().where((Campaign.tenant == tenant) & (Campaign.code == code)).exists():
            raise InvalidInput("campaign %(code)r already exists for tenant %(tenant_code)s", code=code, tenant_code=tenant.code)
        campaign = Campaign.create(tenant=tenant, code=code, name=name or code, script=script,
                                   status=status, screening_hits=hits, record=bool(record))
        audit(actor, "campaign.add", tenant=tenant, target=code, status=status, hits=hits)
    return campaign


def update_campaign_script(tenant_code: str, code: str, *, script: str, keyword_categories=None,
                           auto_approve_clean: bool = False, actor: str = "system") -> Campaign:
    """A changed script is screened again and goes back to review (A11)."""
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    script = _text(script, "script", 20000)
    hits = screen_script(script, keyword_categories or {})
    status = "approved" if (auto_approve_clean and not hits) else "review"
    with write_transaction():
        Campaign.update(script=script, screening_hits=hits, status=status, updated_at=utcnow(),
                        reviewed_at=None, reviewed_by="", review_note="").where(
            Campaign.id == campaign.id).execute()
        audit(actor, "campaign.update", tenant=tenant, target=code, status=status, hits=hits)
    return Campaign.get_by_id(campaign.id)


def review_campaign(tenant_code: str, code: str, *, approve: bool, note: str = "",
                    actor: str = "system") -> Campaign:
    """Only an operator approves (A11): callers must check the role before calling this."""
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    target = "approved" if approve else "rejected"
    allowed_from = {"review", "rejected", "draft"} if approve else {"review", "approved", "draft"}
    if campaign.status not in allowed_from:
        raise InvalidInput("campaign %(code)s is %(campaign_status)s; cannot mark it %(target)s", code=code, campaign_status=campaign.status, target=target)
    with write_transaction():
        Campaign.update(status=target, review_note=note or "", reviewed_by=actor, reviewed_at=utcnow(),
                        updated_at=utcnow()).where(Campaign.id == campaign.id).execute()
        audit(actor, f"campaign.{'approve' if approve else 'reject'}", tenant=tenant, target=code, note=note)
    return Campaign.get_by_id(campaign.id)


def set_campaign_recording(tenant_code: str, code: str, record: bool, *, actor: str = "system") -> Campaign:
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    with write_transaction():
        Campaign.update(record=bool(record), updated_at=utcnow()).where(Campaign.id == campaign.id).execute()
        audit(actor, "campaign.record", tenant=tenant, target=code, record=bool(record))
    return Campaign.get_by_id(campaign.id)


# --- money ----------------------------------------------------------------------------------


def topup(tenant_code: str, amount_fen: int, *, promo: bool = False, note: str = "", actor: str = "system"):
    tenant = get_tenant(tenant_code)
    _fen(amount_fen, "amount", bounds.AMOUNT_FEN)
    with write_transaction():
        entry, _ = ledger.post(tenant.id, "promo" if promo else "topup", amount_fen,
                               promo_fen=amount_fen if promo else 0, note=note, actor=actor)
        audit(actor, "ledger.topup", tenant=tenant, target=tenant.code, amount_fen=amount_fen, promo=promo)
    return entry


def seats_in_use(tenant: Tenant) -> int:
    return Seat.select(fn.COUNT(Seat.id)).where((Seat.tenant == tenant) & Seat.active).scalar()


# Seats live in models.seats (they carry SIP accounts); these names stay importable from here.
from .seats import add_seat, claim_domain, domain_owner  # noqa: E402
