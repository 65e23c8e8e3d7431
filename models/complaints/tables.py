"""Complaints against tenants and the audit log (RULEBOOK A15, D3, D5, D6)."""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField, TextField

from domain.clock import utcnow
from models.base import BaseModel, JSONField
from models.tenancy.tables import Tenant

COMPLAINT_CHANNELS = ("hotline", "12321", "anti_fraud_app", "regulator")


class Complaint(BaseModel):
    tenant = ForeignKeyField(Tenant, backref="complaints", on_delete="CASCADE")
    number = CharField(max_length=32)  # the complaining callee, E.164
    channel = CharField(max_length=20)
    text = TextField(default="")
    call_uuid = CharField(max_length=64, default="")
    received_at = DateTimeField(default=utcnow, index=True)
    due_at = DateTimeField()
    answered_at = DateTimeField(null=True)
    answer = TextField(default="")
    created_by = CharField(max_length=100, default="")


class AuditLog(BaseModel):
    at = DateTimeField(default=utcnow, index=True)
    actor = CharField(max_length=100)
    action = CharField(max_length=64, index=True)
    tenant = ForeignKeyField(Tenant, null=True, on_delete="SET NULL")
    target = CharField(max_length=200, default="")
    detail = JSONField(default=dict)
