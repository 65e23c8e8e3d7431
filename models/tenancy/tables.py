"""Tenants, their bans and their campaigns (RULEBOOK A1, A2, A11, A12)."""
from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from domain.clock import utcnow
from models.base import BaseModel, JSONField

TENANT_STATUSES = ("pending_review", "active", "suspended", "terminated")
BAN_FUNCTIONS = ("account", "outbound", "inbound", "recording")
SCRIPT_STATUSES = ("draft", "review", "approved", "rejected")


class Tenant(BaseModel):
    code = CharField(max_length=64, unique=True)
    # The tenant's own SIP domain: its seats are USER@sip_domain, so two tenants can both have a
    # 1001 (docs/freeswitch.md). Null only between schema step 3's column and its backfill.
    sip_domain = CharField(max_length=200, null=True, unique=True)
    name = CharField(max_length=200)
    display_name = CharField(max_length=200)  # what callees hear in the disclosure (B1)
    hotline = CharField(max_length=32)  # E.164 complaint hotline (B1)
    status = CharField(max_length=20, default="pending_review", index=True)
    industry = CharField(max_length=64, default="")
    industry_approved = BooleanField(default=False)  # A12 operator approval
    seats_purchased = IntegerField(default=0)
    rate_out_fen = IntegerField(default=0)  # per billing increment of outbound talk
    rate_in_fen = IntegerField(default=0)
    connect_fee_fen = IntegerField(default=0)
    billing_increment_s = IntegerField(default=60)
    seat_rent_fen = IntegerField(default=0)  # per seat per period (C3)
    calling_windows = CharField(max_length=200, default="")  # tenant's own, only narrower (A8)
    # Balance cache, always equal to the ledger sum (verified by `fsapp ledger verify`).
    balance_fen = BigIntegerField(default=0)
    promo_balance_fen = BigIntegerField(default=0)  # the promotional part of balance_fen (C5)
    created_at = DateTimeField(default=utcnow)
    status_changed_at = DateTimeField(default=utcnow)
    terminated_at = DateTimeField(null=True)
    termination_kind = CharField(max_length=20, default="")  # violation | operator_fault
    data_deleted_at = DateTimeField(null=True)


class TenantBan(BaseModel):
    """A ban of a whole account or one function; it lapses by itself at ``until`` (A1, A2)."""

    tenant = ForeignKeyField(Tenant, backref="bans", on_delete="CASCADE")
    function = CharField(max_length=16)
    until = DateTimeField(null=True)  # null: until an operator lifts it (A15)
    reason = TextField(default="")
    created_by = CharField(max_length=100, default="")
    created_at = DateTimeField(default=utcnow)
    lifted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("tenant", "function"), False),)


class Campaign(BaseModel):
    """A campaign and its call script; outbound calls need an approved script (A11)."""

    tenant = ForeignKeyField(Tenant, backref="campaigns", on_delete="CASCADE")
    code = CharField(max_length=64)
    name = CharField(max_length=200, default="")
    script = TextField()
    status = CharField(max_length=16, default="review")
    screening_hits = JSONField(default=dict)  # {category: [terms]}
    record = BooleanField(default=True)
    review_note = TextField(default="")
    reviewed_by = CharField(max_length=100, default="")
    reviewed_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tenant", "code"), True),)


