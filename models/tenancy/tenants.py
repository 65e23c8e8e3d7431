"""Tenants: add, change (status, prices, windows, SIP domain), ban and lift bans (A1, A2, A8).

The CLI and the web admin both call these services (and those of campaigns, seats, number leases
and top-ups), so validation lives here once. Every function validates all of its input before it
writes anything and raises InvalidInput with a one-line message; writes happen in one
transaction and are audited.
"""
from __future__ import annotations

from domain import bounds
from domain.bounds import check_time
from domain.clock import utcnow
from domain.errors import InvalidInput, NotFound
from domain.inputs import check_code, check_fen, check_text
from domain.numbers import normalize
from domain.windows import format_windows, parse_windows, within
from models.complaints.audit import audit
from models.db import write_transaction
from domain.sip_credentials import (
    DEFAULT_SIP_BASE_DOMAIN,
    check_domain,
    default_domain,
)
from models.seats.tables import Seat
from models.tenancy.tables import BAN_FUNCTIONS, TENANT_STATUSES, Tenant, TenantBan

# Allowed status changes (A1): terminated is final.
STATUS_TRANSITIONS = {
    "pending_review": {"active", "terminated"},
    "active": {"suspended", "terminated"},
    "suspended": {"active", "terminated"},
    "terminated": set(),
}


def get_tenant(code: str) -> Tenant:
    tenant = Tenant.get_or_none(Tenant.code == code)
    if tenant is None:
        raise NotFound("unknown tenant %(code)r", code=code)
    return tenant


# --- tenants --------------------------------------------------------------------------------


def add_tenant(code: str, *, name: str, display_name: str, hotline: str, seats: int, rate: int,
               inbound_rate: int | None = None, connect_fee: int = 0, industry: str = "",
               seat_rent: int = 0, billing_increment_s: int = 60, region: str = "CN",
               sip_domain: str | None = None, sip_base_domain: str = DEFAULT_SIP_BASE_DOMAIN,
               actor: str = "system") -> Tenant:
    """A new tenant; its SIP domain is ``sip_domain`` or ``<code>.<sip_base_domain>``."""
    code = check_code(code, "tenant")
    domain = check_domain(sip_domain) if sip_domain else default_domain(code, sip_base_domain)
    fields = dict(
        code=code,
        sip_domain=domain,
        name=check_text(name, "name"),
        display_name=check_text(display_name, "display name", 60),
        hotline=normalize(hotline, region),
        seats_purchased=bounds.SEATS.check(seats, "seats"),
        rate_out_fen=check_fen(rate, "rate"),
        rate_in_fen=check_fen(rate if inbound_rate is None else inbound_rate, "inbound rate"),
        connect_fee_fen=check_fen(connect_fee, "connect fee"),
        seat_rent_fen=check_fen(seat_rent, "seat rent"),
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
        changes["display_name"] = check_text(display_name, "display name", 60)
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
        changes["rate_out_fen"] = check_fen(rate, "rate")
    if inbound_rate is not None:
        changes["rate_in_fen"] = check_fen(inbound_rate, "inbound rate")
    if connect_fee is not None:
        changes["connect_fee_fen"] = check_fen(connect_fee, "connect fee")
    if seat_rent is not None:
        changes["seat_rent_fen"] = check_fen(seat_rent, "seat rent")
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


# --- SIP domains ----------------------------------------------------------------------------


def domain_owner(domain: str) -> int | None:
    """The tenant a SIP domain belongs to: the one it is the domain of, or whose seats use it."""
    tenant = Tenant.select(Tenant.id).where(Tenant.sip_domain == domain).first()
    if tenant is not None:
        return tenant.id
    seat = Seat.select(Seat.tenant).where(Seat.sip_domain == domain).first()
    return seat.tenant_id if seat is not None else None


def claim_domain(tenant: Tenant, domain: str, *, actor: str) -> None:
    """Make ``domain`` the tenant's SIP domain: only while none of its seats is on the old one
    (their a1-hashes include the domain) and no other tenant uses it. Inside a transaction."""
    if domain == tenant.sip_domain:
        return
    owner = domain_owner(domain)
    if owner is not None and owner != tenant.id:
        raise InvalidInput("SIP domain %(domain)s belongs to another tenant", domain=domain)
    if Seat.select().where((Seat.tenant == tenant) & (Seat.sip_domain == tenant.sip_domain)).exists():
        raise InvalidInput("tenant %(tenant_code)s has seats on its SIP domain %(tenant_sip_domain)s; a seat must be USER@%(tenant_sip_domain)s", tenant_code=tenant.code, tenant_sip_domain=tenant.sip_domain)
    Tenant.update(sip_domain=domain).where(Tenant.id == tenant.id).execute()
    audit(actor, "tenant.sip_domain", tenant=tenant, target=tenant.code, old=tenant.sip_domain, new=domain)
    tenant.sip_domain = domain
