"""Leasing, changing and releasing a tenant's phone numbers (RULEBOOK A10, C3).

Validation first, then one audited transaction, as for every provisioning service; the first
period's rent is charged from the payment day (``rent.charge_number_purchase``).
"""
from __future__ import annotations

from datetime import timedelta

from domain import bounds
from domain.clock import utcnow
from domain.errors import ForeignReference, InvalidInput
from domain.inputs import check_fen
from domain.numbers import normalize, region_of
from models.complaints.audit import audit
from models.db import write_transaction
from models.seats import rent
from models.seats.tables import INBOUND_MODES, NumberLease, Seat
from models.tenancy.tables import Tenant
from models.tenancy.tenants import get_tenant


def lease_number(tenant_code: str, number: str, *, days: int = 30, monthly_fee: int = 0,
                 max_calls: int = 1, inbound_mode: str = "simultaneous", region: str = "CN",
                 period_days: int = 30, actor: str = "system") -> NumberLease:
    tenant = get_tenant(tenant_code)
    e164 = normalize(number, region)
    bounds.DAYS.check(days, "days")
    check_fen(monthly_fee, "monthly fee")
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
        rent.charge_number_purchase(lease, days, period_days, actor=actor)  # C3: from the payment day
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
