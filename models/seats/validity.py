"""Whether a seat or a leased number can be used now, told the same way everywhere (admin pages,
`fsapp seat list`): one rule, one "expiring soon" threshold for seats and numbers alike.

A seat works only when its tenant does (A1: active and not banned as a whole), it is enabled
and paid through now (C3); a seat of a suspended tenant is not "valid" because its own dates are.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Tenant, TenantBan

EXPIRING_SOON_DAYS = 7  # paid through less than this from now: renew soon (seats and numbers)

# Seat states, most decisive first: the first that applies is the one shown.
SEAT_STATES = ("tenant_terminated", "tenant_suspended", "tenant_pending", "tenant_banned", "disabled",
               "expired", "not_started", "expiring", "valid")
LEASE_STATES = ("released", "lapsed", "expiring", "valid")
USABLE = {"expiring", "valid"}  # states in which a seat or number works


def expiring_soon(paid_through: datetime, now: datetime) -> bool:
    return paid_through - now <= timedelta(days=EXPIRING_SOON_DAYS)


def lease_state(lease: NumberLease, now: datetime) -> str:
    if lease.released_at is not None:
        return "released"
    if lease.paid_through <= now:
        return "lapsed"
    return "expiring" if expiring_soon(lease.paid_through, now) else "valid"


def seat_state(seat: Seat, tenant: Tenant, now: datetime, *, account_banned: bool = False) -> str:
    """The seat's state; ``account_banned``: its tenant has a live ban of the whole account."""
    if tenant.status == "terminated":
        return "tenant_terminated"
    if tenant.status == "suspended":
        return "tenant_suspended"
    if tenant.status == "pending_review":
        return "tenant_pending"
    if account_banned:
        return "tenant_banned"
    if not seat.active:
        return "disabled"
    if seat.valid_to <= now:
        return "expired"
    if seat.valid_from > now:
        return "not_started"
    return "expiring" if expiring_soon(seat.valid_to, now) else "valid"


def account_banned_tenants(now: datetime, tenant_ids=None) -> set[int]:
    """Ids of tenants whose whole account is banned now (A1, A2: a ban lapses at its end)."""
    query = TenantBan.select(TenantBan.tenant).where(
        (TenantBan.function == "account") & TenantBan.lifted_at.is_null()
        & (TenantBan.until.is_null() | (TenantBan.until > now)))
    if tenant_ids is not None:
        query = query.where(TenantBan.tenant.in_(list(tenant_ids)))
    return {tenant_id for (tenant_id,) in query.tuples()}
