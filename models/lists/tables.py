"""Consent records and do-not-call lists (RULEBOOK A6, A7, B3)."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from domain.clock import utcnow
from models.base import BaseModel
from models.tenancy.tables import Tenant

DNC_SCOPES = ("platform", "tenant")
DNC_SOURCES = ("optout", "complaint", "agent", "admin", "import")


class Consent(BaseModel):
    tenant = ForeignKeyField(Tenant, backref="consents", on_delete="CASCADE")
    number = CharField(max_length=32)  # E.164
    source = CharField(max_length=100)
    evidence = TextField(default="")
    obtained_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    revoked_reason = CharField(max_length=100, default="")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("tenant", "number"), False),)


class DoNotCall(BaseModel):
    scope = CharField(max_length=16)  # platform | tenant
    tenant = ForeignKeyField(Tenant, null=True, backref="dnc_entries", on_delete="CASCADE")
    number = CharField(max_length=32, index=True)  # E.164
    reason = TextField(default="")
    source = CharField(max_length=16, default="admin")
    source_call = CharField(max_length=64, default="")  # callee-leg uuid of an in-call opt-out
    created_by = CharField(max_length=100, default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
