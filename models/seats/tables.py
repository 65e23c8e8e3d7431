"""Seats (agent logins) and leased numbers (RULEBOOK A3, A4, A10, C3)."""
from __future__ import annotations

from peewee import (
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from domain.clock import utcnow
from models.base import BaseModel
from models.tenancy.tables import Campaign, Tenant

SEAT_ROLES = ("agent", "admin")


INBOUND_MODES = ("simultaneous", "sequential")


class NumberLease(BaseModel):
    """A number leased to a tenant; usable as caller ID only while paid through (A10, C3)."""

    number = CharField(max_length=32, unique=True)  # E.164
    tenant = ForeignKeyField(Tenant, backref="leases", on_delete="CASCADE")
    province = CharField(max_length=32, default="", index=True)
    city = CharField(max_length=32, default="")
    leased_at = DateTimeField(default=utcnow)
    paid_through = DateTimeField(index=True)
    monthly_fee_fen = IntegerField(default=0)
    max_calls = IntegerField(default=1)
    auto_renew = BooleanField(default=True)
    inbound_mode = CharField(max_length=16, default="simultaneous")
    released_at = DateTimeField(null=True)


class Seat(BaseModel):
    """An agent login; identified by the authenticated SIP user and domain (A3, A4)."""

    tenant = ForeignKeyField(Tenant, backref="seats", on_delete="CASCADE")
    sip_user = CharField(max_length=100)
    sip_domain = CharField(max_length=200)
    role = CharField(max_length=8, default="agent")
    valid_from = DateTimeField(default=utcnow)
    valid_to = DateTimeField()  # paid through (C3)
    active = BooleanField(default=True)
    auto_renew = BooleanField(default=True)
    pinned_number = ForeignKeyField(NumberLease, null=True, on_delete="SET NULL")
    default_campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    # FreeSWITCH's a1-hash, MD5(user:domain:password): the only form of the SIP password kept
    # (RULEBOOK D7). Empty: no credential from the product (a seat from before schema step 3).
    sip_a1_hash = CharField(max_length=32, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("sip_user", "sip_domain"), True),)

    @property
    def address(self) -> str:
        return f"{self.sip_user}@{self.sip_domain}"
