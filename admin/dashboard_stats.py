"""Today's numbers for the dashboard (local day in Asia/Shanghai), scoped to one tenant or all."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from models.calls.tables import CallRecord, Hold
from domain.clock import local_day, local_day_bounds

from .formatting import to_local


@dataclass
class DaySummary:
    live_calls: int
    calls: int
    admitted: int
    answered: int
    blocked: int
    charges_fen: int
    blocked_by_reason: list[tuple[str, int]]
    calls_per_hour: list[int]  # 24 local hours
    answered_per_hour: list[int]

    @property
    def answer_rate(self) -> float | None:
        """Answered calls per admitted (not blocked) call; None when nothing was admitted."""
        return self.answered / self.admitted if self.admitted else None


def live_holds(tenant_id: int | None, now: datetime):
    query = Hold.select().where(Hold.live_at(now))
    if tenant_id is not None:
        query = query.where(Hold.tenant == tenant_id)
    return query


def summarize_today(tenant_id: int | None, now: datetime) -> DaySummary:
    start, end = local_day_bounds(local_day(now))
    today = CallRecord.select(CallRecord.created_at, CallRecord.decision, CallRecord.reasons,
                              CallRecord.answered_at, CallRecord.charge_fen).where(
        (CallRecord.created_at >= start) & (CallRecord.created_at < end))
    if tenant_id is not None:
        today = today.where(CallRecord.tenant == tenant_id)
    reasons: Counter = Counter()
    per_hour = [0] * 24
    answered_per_hour = [0] * 24
    calls = admitted = answered = blocked = charges = 0
    for created_at, decision, reason_list, answered_at, charge_fen in today.tuples().iterator():
        calls += 1
        hour = to_local(created_at).hour
        per_hour[hour] += 1
        charges += charge_fen or 0
        if decision == "blocked":
            blocked += 1
            reasons.update(set(_json_list(reason_list)))
        else:
            admitted += 1
            if answered_at is not None:
                answered += 1
                answered_per_hour[hour] += 1
    live = live_holds(tenant_id, now).select(fn.COUNT(Hold.id)).scalar()
    return DaySummary(live, calls, admitted, answered, blocked, charges, reasons.most_common(),
                      per_hour, answered_per_hour)


def _json_list(value) -> list:
    # .tuples() skips the field converter: reasons arrive as JSON text
    if isinstance(value, str):
        return json.loads(value) if value else []
    return value or []
