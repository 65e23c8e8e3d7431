"""The append-only ledger (RULEBOOK C2-C5). Amounts are integer fen; the sign is the direction."""
from __future__ import annotations

from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField, TextField

from domain.clock import utcnow
from models.base import BaseModel
from models.tenancy.tables import Tenant

LEDGER_KINDS = ("topup", "promo", "call", "seat_rent", "number_rent", "refund", "forfeit", "adjust")


class LedgerEntry(BaseModel):
    tenant = ForeignKeyField(Tenant, backref="ledger", on_delete="CASCADE")
    kind = CharField(max_length=16)
    amount_fen = BigIntegerField()  # signed: + money in, - money out
    promo_fen = BigIntegerField(default=0)  # the promotional part of amount_fen (C5)
    balance_after_fen = BigIntegerField()
    idempotency_key = CharField(max_length=200, null=True, unique=True)  # e.g. call:<uuid>
    call_uuid = CharField(max_length=64, default="", index=True)
    note = TextField(default="")
    actor = CharField(max_length=100, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tenant", "created_at"), False),)
