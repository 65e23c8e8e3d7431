"""Call attempts for the frequency caps (RULEBOOK A9) and caller-ID balancing (A10).

One row per callee leg that admission reserved: written in the same transaction as the hold, so
an attempt is counted the moment the call is admitted and can never be exceeded by a race. If the
call flow never originates the callee leg (the agent hung up first, originate failed to start),
``reservations.release(..., originated=False)`` deletes the row: blocked and never-dialled calls
do not count. A crash between admission and origination leaves the row, erring on the safe side.
"""
from __future__ import annotations

from datetime import datetime

from peewee import fn

from domain.clock import local_day, local_day_bounds
from models import sql_statements as sql
from models.calls.tables import Attempt, LeaseDailyUse


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

