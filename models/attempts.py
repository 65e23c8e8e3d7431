"""Call attempts for the frequency caps (RULEBOOK A9) and caller-ID balancing (A10).

One row per callee leg that admission reserved: written in the same transaction as the hold, so
an attempt is counted the moment the call is admitted and can never be exceeded by a race. If the
call flow never originates the callee leg (the agent hung up first, originate failed to start),
``reservations.release(..., originated=False)`` deletes the row: blocked and never-dialled calls
do not count. A crash between admission and origination leaves the row, erring on the safe side.
"""
from __future__ import annotations

from datetime import datetime

from peewee import CharField, CompositeKey, DateField, DateTimeField, ForeignKeyField, IntegerField, fn

from . import sql_statements as sql
from .base import BaseModel
from domain.clock import local_day, local_day_bounds
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


class LeaseDailyUse(BaseModel):
    """Attempts presented from one leased number on one calendar day in Asia/Shanghai: how A10
    ranks equal numbers ("the one least used today"). Kept in the transaction that writes or
    uncounts the attempt, so admission reads one row per number instead of counting that number's
    attempts of the day, which cost ~0.07 ms per thousand attempts inside the admission lock."""

    lease = ForeignKeyField(NumberLease, on_delete="CASCADE")
    day = DateField()
    attempts = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("lease", "day")


def count_lease_use(lease_id: int, at: datetime) -> None:
    """One more attempt presented from the number on ``at``'s day (inside the caller's transaction)."""
    sql.run("lease_use_count", (lease_id, local_day(at).isoformat()))


def uncount_lease_use(lease_id: int, at: datetime) -> None:
    """Take back an attempt that never left (the callee leg was never created)."""
    sql.run("lease_use_uncount", (lease_id, local_day(at).isoformat()))


def rebuild_lease_use(now: datetime) -> int:
    """Today's counters from the attempts themselves (the schema upgrade that introduced them, and
    bulk loads that insert attempts directly); returns how many numbers were used today."""
    day = local_day(now)
    LeaseDailyUse.delete().where(LeaseDailyUse.day == day).execute()
    since, until = local_day_bounds(day)
    rows = (Attempt.select(Attempt.caller_lease, fn.COUNT(Attempt.id))
            .where(Attempt.caller_lease.is_null(False) & (Attempt.at >= since) & (Attempt.at < until))
            .group_by(Attempt.caller_lease).tuples())
    counts = [dict(lease=lease, day=day, attempts=n) for lease, n in rows]
    if counts:
        LeaseDailyUse.insert_many(counts).execute()
    return len(counts)

