"""Call attempts for the frequency caps (RULEBOOK A9) and caller-ID balancing (A10).

One row per callee leg that admission reserved: written in the same transaction as the hold, so
an attempt is counted the moment the call is admitted and can never be exceeded by a race. If the
call flow never originates the callee leg (the agent hung up first, originate failed to start),
``reservations.release(..., originated=False)`` deletes the row: blocked and never-dialled calls
do not count. A crash between admission and origination leaves the row, erring on the safe side.
"""
from __future__ import annotations

from peewee import CharField, DateTimeField, ForeignKeyField

from .base import BaseModel
from .tenancy import NumberLease, Tenant


class Attempt(BaseModel):
    call_uuid = CharField(max_length=64, unique=True)  # agent-leg uuid, as in Hold
    tenant = ForeignKeyField(Tenant, on_delete="CASCADE")
    callee_number = CharField(max_length=32)  # E.164
    caller_lease = ForeignKeyField(NumberLease, null=True, on_delete="SET NULL")
    at = DateTimeField()

    class Meta:
        indexes = (
            (("callee_number", "at"), False),  # per-callee counts, across tenants
            (("caller_lease", "at"), False),  # a number's use today
        )
