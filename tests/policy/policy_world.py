"""A provisioned tenant in a real database, with every time set relative to a fixed NOW so the
tests do not depend on the wall clock (02:00 UTC on a Monday is 10:00 in Shanghai)."""
from __future__ import annotations

from datetime import datetime, timedelta

from models import Consent, NumberLease, Seat
from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats as seat_models
from models.tenancy import campaigns
from models.tenancy import tenants
from models.tenancy.tables import Tenant

NOW = datetime(2026, 11, 23, 2, 0, 0)
CALLEE = "+8613800138000"  # Beijing
BEIJING_NUMBER = "+861061234567"
SEAT = "1001@acme.example"


def make_tenant(code="acme", *, seats=2, rate=10, balance=10_000, numbers=(BEIJING_NUMBER,), seat_users=("1001",),
                callees=(CALLEE,), domain="acme.example", industry="", max_calls=1):
    tenants.add_tenant(code, name=code.title(), display_name=code.title(), hotline="4001234567", seats=seats,
                            rate=rate, industry=industry)
    tenants.set_tenant(code, status="active")
    if balance:
        topups.topup(code, balance)
    for number in numbers:
        number_leases.lease_number(code, number, max_calls=max_calls)
    campaigns.add_campaign(code, "spring", script="您好，这里是春季回访。")
    campaigns.review_campaign(code, "spring", approve=True, actor="operator")
    for user in seat_users:
        seat_models.add_seat(code, f"{user}@{domain}", campaign="spring")
    for callee in callees:
        list_entries.add_consent(code, callee, source="web form")
    tenant = Tenant.get(Tenant.code == code)
    at(tenant)
    return tenant


def at(tenant, now: datetime = NOW) -> None:
    """Move the tenant's validity times around ``now``."""
    Seat.update(valid_from=now - timedelta(days=1), valid_to=now + timedelta(days=29)).where(
        Seat.tenant == tenant).execute()
    NumberLease.update(paid_through=now + timedelta(days=29)).where(NumberLease.tenant == tenant).execute()
    Consent.update(obtained_at=now - timedelta(days=1)).where(Consent.tenant == tenant).execute()
