"""Call statistics per (tenant, campaign, seat), kept for closed days and hours (issue 17 reports).

A local (Asia/Shanghai) day is *settled* once it ended ``SETTLE_AFTER`` ago: by then its calls
have ended and their CDRs have been reconciled, so its figures no longer change. A settled day is
aggregated once from the call records and stored (``CallDayStats``, ``CallDayReason`` rows with
no hour, one ``CallDayRollup`` marker per day). A day not yet settled (today, yesterday) keeps
one block of rows for its settled first hours (``hour`` = how many: one ``CallHourRollup`` marker;
as more hours settle, the block is extended by the new hours' figures and replaces the shorter one;
the day's rows replace it once the day settles), and only its last unsettled hours (at most
``SETTLE_AFTER`` plus one hour of calls) are aggregated from the call records on every read. A
report over 30 days therefore has the database sum one row per group and day (over covering
indexes, migration 7) plus a few hours of calls, whatever the size of the call table.

Only the admin calls this: nothing here runs on the call path."""
from __future__ import annotations

import json
from collections import Counter, OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import reduce
from operator import or_
from weakref import WeakKeyDictionary

from peewee import (
    BigIntegerField,
    Case,
    CharField,
    DateField,
    DateTimeField,
    IntegerField,
    IntegrityError,
    fn,
)

from domain.clock import local_day, local_day_bounds
from models.base import BaseModel
from models.calls.tables import CallRecord
from models.db import database

SETTLE_AFTER = timedelta(hours=6)

GroupKey = tuple  # (tenant_id, campaign_id, seat_id)


class CallDayRollup(BaseModel):
    """A settled local day whose statistics are stored."""

    day = DateField(primary_key=True)
    computed_at = DateTimeField()


class CallHourRollup(BaseModel):
    """The stored block of a day not yet settled: its first ``hour`` local hours (1-23)."""

    day = DateField()
    hour = IntegerField()
    computed_at = DateTimeField()

    class Meta:
        indexes = ((("day", "hour"), True),)


class _GroupRow(BaseModel):
    """A stored row of a settled day (``hour`` null) or of the settled first ``hour`` hours of a
    day, for one (tenant, campaign, seat) group."""

    day = DateField()
    hour = IntegerField(null=True)
    tenant_id = IntegerField(null=True)
    campaign_id = IntegerField(null=True)
    seat_id = IntegerField(null=True)

    class Meta:
        indexes = ((("day", "tenant_id"), False),)


class CallDayStats(_GroupRow):
    calls = IntegerField(default=0)
    blocked = IntegerField(default=0)
    answered = IntegerField(default=0)
    billed_minutes = BigIntegerField(default=0)
    charge_fen = BigIntegerField(default=0)
    cdr_mismatches = IntegerField(default=0)


class CallDayReason(_GroupRow):
    """Blocked calls by reason code (a call blocked for two reasons counts in both)."""

    reason = CharField(max_length=40)
    calls = IntegerField(default=0)


MODELS = [CallDayRollup, CallHourRollup, CallDayStats, CallDayReason]
COUNTS = ("calls", "blocked", "answered", "billed_minutes", "charge_fen", "cdr_mismatches")


@dataclass
class DayFigures:
    """Figures of a day or part of it by group: counts per (tenant, campaign, seat) and blocked
    calls per reason."""

    day: date
    counts: dict  # GroupKey -> dict of COUNTS
    reasons: dict  # GroupKey -> Counter(reason -> calls)


def is_settled(day: date, now: datetime) -> bool:
    return local_day_bounds(day)[1] + SETTLE_AFTER <= now


def settled_hours(day: date, now: datetime) -> int:
    """How many of the day's first local hours are settled (0-24)."""
    start = local_day_bounds(day)[0]
    return max(0, min(24, int((now - SETTLE_AFTER - start) // timedelta(hours=1))))


def _aggregate(day: date, tenant_id: int | None, first_hour: int = 0, hours: int | None = None) -> DayFigures:
    """The figures of the day from ``first_hour`` on, straight from the call records, in one pass
    over a range of the created_at index: grouped by (tenant, campaign, seat) and, for blocked
    calls, reasons list."""
    start, end = local_day_bounds(day)
    start += timedelta(hours=first_hour)
    if hours is not None:
        end = start + timedelta(hours=hours)
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
            .where(in_day).group_by(*group))
    figures = DayFigures(day, {}, {})
    codes_of: dict = {}  # a reasons list as stored -> its codes (few distinct lists)
    for tenant, campaign, seat, reason_list, *values in database.execute(rows):  # plain rows: no per-column conversion
        key = (tenant, campaign, seat)
        counts = figures.counts.setdefault(key, dict.fromkeys(COUNTS, 0))
        for name, value in zip(COUNTS, values):
            counts[name] += int(value or 0)
        if reason_list is not None:
            if isinstance(reason_list, str):
                if reason_list not in codes_of:
                    codes_of[reason_list] = set(json.loads(reason_list))
                codes = codes_of[reason_list]
            else:
                codes = set(reason_list)
            tally = figures.reasons.setdefault(key, Counter())
            for code in codes:
                tally[code] += int(values[0])
    return figures


def _store(figures: DayFigures, now: datetime, hours: int | None = None) -> None:
    """Store a settled day's figures, or the block of a day's first ``hours`` hours; either
    replaces the day's shorter blocks."""
    with database.atomic():
        # the marker first: a concurrent writer of the same day or block fails here
        if hours is None:
            CallDayRollup.create(day=figures.day, computed_at=now)
        else:
            CallHourRollup.create(day=figures.day, hour=hours, computed_at=now)
        shorter = 24 if hours is None else hours
        for model in (CallDayStats, CallDayReason):
            model.delete().where((model.day == figures.day) & (model.hour < shorter)).execute()
        CallHourRollup.delete().where((CallHourRollup.day == figures.day) & (CallHourRollup.hour < shorter)).execute()
        stats = [dict(day=figures.day, hour=hours, tenant_id=k[0], campaign_id=k[1], seat_id=k[2], **v)
                 for k, v in figures.counts.items()]
        reasons = [dict(day=figures.day, hour=hours, tenant_id=k[0], campaign_id=k[1], seat_id=k[2], reason=code,
                        calls=n) for k, tally in figures.reasons.items() for code, n in tally.items()]
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


def rebuild_days(days: list[date], now: datetime) -> int:
    """Aggregate settled days again from the call records and replace their stored rows (after a
    settled day's call records were corrected, e.g. a CDR reconciled late); returns how many.
    Running it again stores the same rows. The marker is stamped later than the one it replaces,
    so that sums kept of the old rows are not used again."""
    done = 0
    for day in days:
        if not is_settled(day, now):
            continue
        with database.atomic():
            old = CallDayRollup.get_or_none(CallDayRollup.day == day)
            stamp = now if old is None or old.computed_at < now else old.computed_at + timedelta(microseconds=1)
            CallDayRollup.delete().where(CallDayRollup.day == day).execute()
            for model in (CallDayStats, CallDayReason):
                model.delete().where((model.day == day) & model.hour.is_null()).execute()
            _store(_aggregate(day, None), stamp)
        done += 1
    return done


def settle_hours(day: date, now: datetime) -> int:
    """Store the block of the settled first hours of a day that is not settled itself (the stored
    shorter block plus the hours settled since); returns how many first hours the stored block
    holds (the rest of the day is read from the call records)."""
    count = settled_hours(day, now)
    stored = CallHourRollup.select(fn.MAX(CallHourRollup.hour)).where(CallHourRollup.day == day).scalar() or 0
    if count <= stored:
        return stored
    figures = _aggregate(day, None, stored, count - stored)
    if stored:
        _add_figures(figures, _stored_block(day, stored))
    try:
        _store(figures, now, count)
    except IntegrityError:  # another process stored it meanwhile: the same figures
        pass
    return count


def _stored_block(day: date, hours: int) -> DayFigures:
    """The stored figures of a day's first ``hours`` hours, per group."""
    block = DayFigures(day, {}, {})
    where = (CallDayStats.day == day) & (CallDayStats.hour == hours)
    for tenant, campaign, seat, *values in CallDayStats.select(
            CallDayStats.tenant_id, CallDayStats.campaign_id, CallDayStats.seat_id,
            *(getattr(CallDayStats, name) for name in COUNTS)).where(where).tuples():
        block.counts[(tenant, campaign, seat)] = dict(zip(COUNTS, values))
    for tenant, campaign, seat, reason, calls in CallDayReason.select(
            CallDayReason.tenant_id, CallDayReason.campaign_id, CallDayReason.seat_id, CallDayReason.reason,
            CallDayReason.calls).where((CallDayReason.day == day) & (CallDayReason.hour == hours)).tuples():
        block.reasons.setdefault((tenant, campaign, seat), Counter())[reason] += calls
    return block


def _add_figures(into, more) -> None:
    """Add the counts and reasons per group of ``more`` into ``into`` (DayFigures or PeriodFigures;
    ``more`` is left as it is: it may be kept)."""
    for key, counts in more.counts.items():
        _add(into.counts.setdefault(key, dict.fromkeys(COUNTS, 0)), counts)
    for key, tally in more.reasons.items():
        into.reasons.setdefault(key, Counter()).update(tally)


@dataclass
class PeriodFigures:
    """A period's figures summed per group (``key``: "tenant", "campaign" or "seat"; a row's key
    is that id and the tenant it belongs to), per day, and blocked calls per reason."""

    counts: dict  # (key id, tenant id) -> dict of COUNTS
    reasons: dict  # (key id, tenant id) -> Counter(reason -> calls)
    per_day: dict  # day -> dict of COUNTS


_KEY_INDEX = {"tenant": 0, "campaign": 1, "seat": 2}


def period_figures(days: list[date], now: datetime, tenant_id: int | None = None, key: str = "tenant",
                   live: dict | None = None, *, detail: bool = True) -> PeriodFigures:
    """The figures of ``days`` grouped by ``key``. Settled days and hours are summed by the database
    over their stored rows (stored first if needed); the hours after them are aggregated from the
    call records, once per ``live`` cache (a dict the caller keeps for one request). Without
    ``detail`` only the counts per group are summed (no reasons, no days)."""
    settle_days(days, now)
    stored_hours = {d: settle_hours(d, now) for d in days if not is_settled(d, now)}
    result = PeriodFigures({}, {}, {d: dict.fromkeys(COUNTS, 0) for d in days})
    _merge(result, _stored_sums([d for d in days if d not in stored_hours], stored_hours, tenant_id, key, detail))
    live = {} if live is None else live
    index = _KEY_INDEX[key]
    for day, first_hour in stored_hours.items():
        if first_hour >= 24:
            continue
        if (day, first_hour, tenant_id) not in live:
            live[(day, first_hour, tenant_id)] = _aggregate(day, tenant_id, first_hour)
        figures = live[(day, first_hour, tenant_id)]
        for group, counts in figures.counts.items():
            _add(result.counts.setdefault((group[index], group[0]), dict.fromkeys(COUNTS, 0)), counts)
            _add(result.per_day[day], counts)
        for group, tally in figures.reasons.items():
            result.reasons.setdefault((group[index], group[0]), Counter()).update(tally)
    return result


def _add(into: dict, counts: dict) -> None:
    for name in COUNTS:
        into[name] += counts[name]


#: per database, sums over stored rows (most recent last, at most STORED_SUMS_KEPT). Stored rows
#: never change under their marker: a settled day's are replaced only by a rebuild, which stamps
#: the marker later, and an open day's block is replaced by a longer one under a new marker; the
#: key holds the markers, so a kept sum is the one the database would compute now.
_stored_sums_kept: WeakKeyDictionary = WeakKeyDictionary()
STORED_SUMS_KEPT = 64


def _stored_sums(settled: list[date], blocks: dict, tenant_id: int | None, key: str, detail: bool) -> PeriodFigures:
    """The sums over the stored rows of settled days and of open days' blocks (``blocks``: day ->
    hours stored), as ``_sum_stored`` computes them, kept per database."""
    stamp = tuple(CallDayRollup.select(fn.COUNT(CallDayRollup.day), fn.MAX(CallDayRollup.computed_at))
                  .where(CallDayRollup.day.in_(settled)).tuples().get()) if settled else ()
    if any(blocks.values()):
        stamp += tuple(CallHourRollup.select(CallHourRollup.day, CallHourRollup.hour, CallHourRollup.computed_at)
                       .where(CallHourRollup.day.in_(list(blocks))).order_by(CallHourRollup.day, CallHourRollup.hour)
                       .tuples())
    memo_key = (tuple(settled), tuple(sorted(blocks.items())), tenant_id, key, detail, stamp)
    kept = _stored_sums_kept.setdefault(database.obj, OrderedDict())
    figures = kept.get(memo_key)
    if figures is None:
        figures = PeriodFigures({}, {}, {d: dict.fromkeys(COUNTS, 0) for d in [*settled, *blocks]})
        _sum_stored(figures, settled, blocks, tenant_id, key, detail)
        kept[memo_key] = figures
        while len(kept) > STORED_SUMS_KEPT:
            kept.popitem(last=False)
    kept.move_to_end(memo_key)
    return figures


def _merge(into: PeriodFigures, more: PeriodFigures) -> None:
    """Add ``more`` into ``into``, its days too."""
    _add_figures(into, more)
    for day, counts in more.per_day.items():
        _add(into.per_day[day], counts)


def _stored_rows(model, settled_days: list[date], stored_hours: dict):
    """The condition selecting the stored rows of ``model`` for settled days (whole-day rows) and
    for the stored first hours of the others."""
    parts = [model.hour.is_null() & model.day.in_(settled_days)] if settled_days else []
    parts += [(model.day == day) & (model.hour == hours) for day, hours in stored_hours.items() if hours]
    return reduce(or_, parts) if parts else None


def _sum_stored(result: PeriodFigures, settled_days: list[date], stored_hours: dict, tenant_id: int | None,
                key: str, detail: bool) -> None:
    """Sums over the stored rows, computed by the database (a few queries returning one row per
    group, day or reason, however many rows they sum)."""
    stats_rows, reason_rows = (_stored_rows(CallDayStats, settled_days, stored_hours),
                               _stored_rows(CallDayReason, settled_days, stored_hours))
    if stats_rows is None:
        return
    column = getattr(CallDayStats, f"{key}_id")
    sums = [fn.SUM(getattr(CallDayStats, name)) for name in COUNTS]
    stats = CallDayStats.select().where(stats_rows)
    reasons = CallDayReason.select().where(reason_rows)
    if tenant_id is not None:
        stats = stats.where(CallDayStats.tenant_id == tenant_id)
        reasons = reasons.where(CallDayReason.tenant_id == tenant_id)
    for group, tenant, *values in (stats.select(column, fn.MAX(CallDayStats.tenant_id), *sums)
                                   .group_by(column).tuples()):
        _add(result.counts.setdefault((group, tenant), dict.fromkeys(COUNTS, 0)),
             dict(zip(COUNTS, (int(v or 0) for v in values))))
    if not detail:
        return
    for day, *values in stats.select(CallDayStats.day, *sums).group_by(CallDayStats.day).tuples():
        _add(result.per_day[_as_date(day)], dict(zip(COUNTS, (int(v or 0) for v in values))))
    reason_column = getattr(CallDayReason, f"{key}_id")
    for group, tenant, reason, calls in (reasons.select(reason_column, fn.MAX(CallDayReason.tenant_id),
                                                        CallDayReason.reason, fn.SUM(CallDayReason.calls))
                                         .group_by(reason_column, CallDayReason.reason).tuples()):
        tally = result.reasons.get((group, tenant))
        if tally is None:
            tally = result.reasons[(group, tenant)] = Counter()
        tally[reason] += int(calls)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def today(now: datetime) -> date:
    return local_day(now)
