"""Daily call statistics per (tenant, campaign, seat), kept for closed days (issue 17 reports).

A local (Asia/Shanghai) day is *settled* once it ended ``SETTLE_AFTER`` ago: by then its calls
have ended and their CDRs have been reconciled, so its figures no longer change. A settled day is
aggregated once from the call records and stored (``CallDayStats``, ``CallDayReason``, one
``CallDayRollup`` marker per day); a day not yet settled (today, yesterday's first hours) is
aggregated from the call records on every read. A report over 30 days therefore reads at most a
few thousand stored rows plus today's calls, whatever the size of the call table.

Only the admin calls this: nothing here runs on the call path."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import BigIntegerField, Case, CharField, DateField, DateTimeField, IntegerField, IntegrityError, fn

from .base import BaseModel
from .calls import CallRecord
from .clock import local_day, local_day_bounds
from .db import database

SETTLE_AFTER = timedelta(hours=6)

GroupKey = tuple  # (tenant_id, campaign_id, seat_id)


class CallDayRollup(BaseModel):
    """A settled local day whose statistics are stored."""

    day = DateField(primary_key=True)
    computed_at = DateTimeField()


class CallDayStats(BaseModel):
    day = DateField()
    tenant_id = IntegerField(null=True)
    campaign_id = IntegerField(null=True)
    seat_id = IntegerField(null=True)
    calls = IntegerField(default=0)
    blocked = IntegerField(default=0)
    answered = IntegerField(default=0)
    billed_minutes = BigIntegerField(default=0)
    charge_fen = BigIntegerField(default=0)
    cdr_mismatches = IntegerField(default=0)

    class Meta:
        indexes = ((("day", "tenant_id"), False),)


class CallDayReason(BaseModel):
    """Blocked calls of a day and group by reason code (a call blocked for two reasons counts in both)."""

    day = DateField()
    tenant_id = IntegerField(null=True)
    campaign_id = IntegerField(null=True)
    seat_id = IntegerField(null=True)
    reason = CharField(max_length=40)
    calls = IntegerField(default=0)

    class Meta:
        indexes = ((("day", "tenant_id"), False),)


MODELS = [CallDayRollup, CallDayStats, CallDayReason]
COUNTS = ("calls", "blocked", "answered", "billed_minutes", "charge_fen", "cdr_mismatches")


@dataclass
class DayFigures:
    """One day's figures by group: counts per (tenant, campaign, seat) and blocked calls per reason."""

    day: date
    counts: dict  # GroupKey -> dict of COUNTS
    reasons: dict  # GroupKey -> Counter(reason -> calls)


def is_settled(day: date, now: datetime) -> bool:
    return local_day_bounds(day)[1] + SETTLE_AFTER <= now


def _aggregate(day: date, tenant_id: int | None) -> DayFigures:
    """The day's figures straight from the call records, in one pass over a range of the
    created_at index: grouped by (tenant, campaign, seat) and, for blocked calls, reasons list."""
    start, end = local_day_bounds(day)
    in_day = (CallRecord.created_at >= start) & (CallRecord.created_at < end)
    if tenant_id is not None:
        in_day &= CallRecord.tenant == tenant_id
    blocked = CallRecord.decision == "blocked"
    answered = (CallRecord.decision != "blocked") & CallRecord.answered_at.is_null(False)
    reasons = Case(None, [(blocked, CallRecord.reasons)], None)
    group = (CallRecord.tenant, CallRecord.campaign, CallRecord.seat, reasons)
    rows = (CallRecord.select(*group, fn.COUNT(CallRecord.id), fn.SUM(blocked.cast("integer")),
                              fn.SUM(answered.cast("integer")), fn.SUM(CallRecord.billed_minutes),
                              fn.SUM(CallRecord.charge_fen), fn.SUM(CallRecord.cdr_mismatch.cast("integer")))
            .where(in_day).group_by(*group).tuples())
    figures = DayFigures(day, {}, {})
    for tenant, campaign, seat, reason_list, *values in rows:
        key = (tenant, campaign, seat)
        counts = figures.counts.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name, value in zip(COUNTS, values):
            counts[name] += int(value or 0)
        if reason_list is not None:
            codes = json.loads(reason_list) if isinstance(reason_list, str) else reason_list
            tally = figures.reasons.setdefault(key, Counter())
            for code in set(codes):
                tally[code] += values[0]
    return figures


def _store(figures: DayFigures, now: datetime) -> None:
    with database.atomic():
        CallDayRollup.create(day=figures.day, computed_at=now)  # first: a concurrent writer fails here
        stats = [dict(day=figures.day, tenant_id=k[0], campaign_id=k[1], seat_id=k[2], **v)
                 for k, v in figures.counts.items()]
        reasons = [dict(day=figures.day, tenant_id=k[0], campaign_id=k[1], seat_id=k[2], reason=code, calls=n)
                   for k, tally in figures.reasons.items() for code, n in tally.items()]
        for chunk in range(0, len(stats), 500):
            CallDayStats.insert_many(stats[chunk:chunk + 500]).execute()
        for chunk in range(0, len(reasons), 500):
            CallDayReason.insert_many(reasons[chunk:chunk + 500]).execute()


def settle_days(days: list[date], now: datetime) -> int:
    """Store the figures of every settled day among ``days`` that is not stored yet; returns how many."""
    stored = {row.day for row in CallDayRollup.select(CallDayRollup.day).where(CallDayRollup.day.in_(days))}
    done = 0
    for day in days:
        if day in stored or not is_settled(day, now):
            continue
        try:
            _store(_aggregate(day, None), now)
            done += 1
        except IntegrityError:  # another process stored it meanwhile: the same figures
            pass
    return done


@dataclass
class PeriodFigures:
    """A period's figures summed per group (``key``: "tenant", "campaign" or "seat"; a row's key
    is that id and the tenant it belongs to), per day, and blocked calls per reason."""

    counts: dict  # (key id, tenant id) -> dict of COUNTS
    reasons: dict  # (key id, tenant id) -> Counter(reason -> calls)
    per_day: dict  # day -> dict of COUNTS


_KEY_INDEX = {"tenant": 0, "campaign": 1, "seat": 2}


def period_figures(days: list[date], now: datetime, tenant_id: int | None = None, key: str = "tenant",
                   live: dict | None = None) -> PeriodFigures:
    """The figures of ``days`` grouped by ``key``. Settled days are summed by the database over
    their stored rows (stored first if needed); the others are aggregated from the call records,
    once per ``live`` cache (a dict the caller keeps for one request)."""
    settle_days(days, now)
    settled = [d for d in days if is_settled(d, now)]
    result = PeriodFigures({}, {}, {d: dict.fromkeys(COUNTS, 0) for d in days})
    if settled:
        _sum_stored(result, settled, tenant_id, key)
    live = {} if live is None else live
    index = _KEY_INDEX[key]
    for day in days:
        if day in settled:
            continue
        if (day, tenant_id) not in live:
            live[(day, tenant_id)] = _aggregate(day, tenant_id)
        figures = live[(day, tenant_id)]
        for group, counts in figures.counts.items():
            _add(result.counts.setdefault((group[index], group[0]), dict.fromkeys(COUNTS, 0)), counts)
            _add(result.per_day[day], counts)
        for group, tally in figures.reasons.items():
            result.reasons.setdefault((group[index], group[0]), Counter()).update(tally)
    return result


def _add(into: dict, counts: dict) -> None:
    for name in COUNTS:
        into[name] += counts[name]


def _sum_stored(result: PeriodFigures, days: list[date], tenant_id: int | None, key: str) -> None:
    """Sums over the stored rows of settled days, computed by the database (a few queries
    returning one row per group, day or reason, however many rows they sum)."""
    column = getattr(CallDayStats, f"{key}_id")
    sums = [fn.SUM(getattr(CallDayStats, name)) for name in COUNTS]
    stats = CallDayStats.select().where(CallDayStats.day.in_(days))
    reasons = CallDayReason.select().where(CallDayReason.day.in_(days))
    if tenant_id is not None:
        stats = stats.where(CallDayStats.tenant_id == tenant_id)
        reasons = reasons.where(CallDayReason.tenant_id == tenant_id)
    for group, tenant, *values in (stats.select(column, fn.MAX(CallDayStats.tenant_id), *sums)
                                   .group_by(column).tuples()):
        _add(result.counts.setdefault((group, tenant), dict.fromkeys(COUNTS, 0)),
             dict(zip(COUNTS, (int(v or 0) for v in values))))
    for day, *values in stats.select(CallDayStats.day, *sums).group_by(CallDayStats.day).tuples():
        _add(result.per_day[_as_date(day)], dict(zip(COUNTS, (int(v or 0) for v in values))))
    reason_column = getattr(CallDayReason, f"{key}_id")
    for group, tenant, reason, calls in (reasons.select(reason_column, fn.MAX(CallDayReason.tenant_id),
                                                        CallDayReason.reason, fn.SUM(CallDayReason.calls))
                                         .group_by(reason_column, CallDayReason.reason).tuples()):
        result.reasons.setdefault((group, tenant), Counter())[reason] += int(calls)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def today(now: datetime) -> date:
    return local_day(now)
