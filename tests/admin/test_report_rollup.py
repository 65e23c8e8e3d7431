"""The report figures from the stored statistics (settled days, open days' blocks, kept sums) are
the figures of the raw call records, counted here one record at a time (issue 17): for every
period and grouping, for all tenants and one, on both databases; through today's partial day, a
call that ends after midnight in Shanghai, days settling, a late correction and its rebuild."""
from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest

from admin import reports
from models.calls import rollups
from models.calls.rollups import CallDayReason, CallDayRollup, CallDayStats
from models.calls.tables import CallRecord
from domain.clock import local_day, local_day_bounds, utcnow

from conftest import _call

KEYS = {"tenant": lambda r: r.tenant_id, "campaign": lambda r: r.campaign_id, "seat": lambda r: r.seat_id}


def raw_figures(days, tenant_id, key):
    """(counts per (key id, tenant id), blocked calls per reason per group, counts per day) of the
    call records created on ``days`` (Shanghai), one record at a time."""
    counts, reasons, per_day = {}, {}, {d: Counter() for d in days}
    first, end = local_day_bounds(days[0])[0], local_day_bounds(days[-1])[1]
    for r in CallRecord.select().where((CallRecord.created_at >= first) & (CallRecord.created_at < end)):
        if tenant_id is not None and r.tenant_id != tenant_id:
            continue
        blocked = r.decision == "blocked"
        row = Counter(calls=1, blocked=int(blocked), answered=int(not blocked and r.answered_at is not None),
                      billed_minutes=r.billed_minutes, charge_fen=r.charge_fen, cdr_mismatches=int(r.cdr_mismatch))
        group = (KEYS[key](r), r.tenant_id)
        counts.setdefault(group, Counter()).update(row)
        per_day[local_day(r.created_at)].update(row)
        if blocked:
            reasons.setdefault(group, Counter()).update(set(r.reasons))
    return counts, reasons, per_day


def stored_figures(days, tenant_id, key, now):
    figures = rollups.period_figures(days, now, tenant_id, key)
    counts = {g: Counter({k: v for k, v in c.items() if v}) for g, c in figures.counts.items()}
    reasons = {g: t for g, t in figures.reasons.items() if t}
    return counts, reasons, {d: Counter({k: v for k, v in c.items() if v}) for d, c in figures.per_day.items()}


def stored_rows(day) -> list:
    stats = CallDayStats.select(CallDayStats.hour, CallDayStats.tenant_id, CallDayStats.campaign_id,
                                CallDayStats.seat_id, *(getattr(CallDayStats, name) for name in rollups.COUNTS))
    reasons = CallDayReason.select(CallDayReason.hour, CallDayReason.tenant_id, CallDayReason.campaign_id,
                                   CallDayReason.seat_id, CallDayReason.reason, CallDayReason.calls)
    return sorted(map(repr, [*stats.where(CallDayStats.day == day).tuples(),
                             *reasons.where(CallDayReason.day == day).tuples()]))


def assert_every_view_matches(world, now):
    for kind in reports.PERIODS:
        days = reports.period_from(kind, "", now).days
        for key in KEYS:
            for tenant_id in (None, world.acme.id):
                assert stored_figures(days, tenant_id, key, now) == raw_figures(days, tenant_id, key), \
                    (kind, key, tenant_id)


@pytest.fixture
def calls(world, clock):
    """About 400 calls over the last 40 days (answered, unanswered, blocked for one or two reasons,
    CDR mismatches, calls without a seat or campaign), today's included, and a call that starts at
    23:50 in Shanghai and ends after midnight."""
    clock.freeze()
    now = utcnow()
    rng = random.Random(17)
    groups = [(world.acme, world.acme_seat, world.acme_campaign), (world.globex, world.globex_seat, world.globex_campaign),
              (world.acme, None, None)]
    for i in range(400):
        tenant, seat, campaign = rng.choice(groups)
        at = now - timedelta(seconds=rng.randint(0, 40 * 86400))
        kind = rng.choice(("answered", "answered", "unanswered", "blocked", "blocked2"))
        if kind.startswith("blocked"):
            reasons = ["DNC"] if kind == "blocked" else ["NO_CONSENT", "OUTSIDE_CALLING_HOURS"]
            _call(tenant, seat, campaign, "+8613800138000", at=at, decision="blocked", reasons=reasons,
                  result="blocked", uuid=f"raw-{i}")
        else:
            billsec = rng.randint(1, 400) if kind == "answered" else 0
            record = _call(tenant, seat, campaign, "+8613800138000", at=at, billsec=billsec,
                           charge=12 * -(-billsec // 60), result="completed" if billsec else "no_answer", uuid=f"raw-{i}")
            if rng.random() < 0.1:
                CallRecord.update(cdr_mismatch=True, cdr_billsec=billsec + 3).where(CallRecord.id == record.id).execute()
    yesterday_2350 = local_day_bounds(local_day(now))[0] - timedelta(minutes=10)
    world.midnight_call = _call(world.acme, world.acme_seat, world.acme_campaign, "+8613800138001",
                                at=yesterday_2350, billsec=1200, charge=240, uuid="across-midnight")
    assert world.midnight_call.ended_at > yesterday_2350 + timedelta(minutes=10)  # ends on today's date
    return world


def test_every_view_matches_the_raw_calls(calls, clock):
    now = utcnow()  # Monday 10:00 in Shanghai: today has a stored block (00-04) and live hours
    assert_every_view_matches(calls, now)
    assert CallDayRollup.select().count() == 29  # the 30 days' settled days (the month's are among them)
    assert CallDayStats.select().where(CallDayStats.hour == 4).count() > 0  # today's block
    assert_every_view_matches(calls, now)  # again: from the kept sums


def test_views_match_as_hours_and_days_settle_and_calls_arrive(calls, clock):
    assert_every_view_matches(calls, utcnow())
    for step in range(6):  # through the afternoon, midnight and the next morning
        clock.advance(timedelta(hours=5))
        now = utcnow()
        _call(calls.acme, calls.acme_seat, calls.acme_campaign, "+8613800138002", at=now - timedelta(minutes=1),
              billsec=90, charge=24, uuid=f"new-{step}")  # today's partial day keeps changing
        assert_every_view_matches(calls, now)
    day_of_midnight_call = local_day(calls.midnight_call.created_at)
    row = CallDayStats.select().where((CallDayStats.day == day_of_midnight_call) & CallDayStats.hour.is_null()
                                      & (CallDayStats.seat_id == calls.acme_seat.id)).get()
    assert row.calls >= 1  # the call that ended after midnight counts on the day it was made


def test_a_rebuild_takes_a_late_correction_and_a_rerun_changes_nothing(calls, clock):
    now = utcnow()
    days = reports.period_from("30d", "", now).days
    assert stored_figures(days, None, "seat", now) == raw_figures(days, None, "seat")
    settled_day = days[3]
    start, end = local_day_bounds(settled_day)
    corrected = (CallRecord.select().where((CallRecord.created_at >= start) & (CallRecord.created_at < end)
                                           & (CallRecord.decision == "allowed")).first())
    assert corrected is not None
    # a CDR reconciled after the day settled: the stored day still has the old figures
    CallRecord.update(charge_fen=corrected.charge_fen + 500, cdr_mismatch=True).where(
        CallRecord.id == corrected.id).execute()
    assert stored_figures(days, None, "seat", now) != raw_figures(days, None, "seat")
    assert rollups.rebuild_days([settled_day, days[-1]], now) == 1  # today is not settled: left as it is
    assert stored_figures(days, None, "seat", now) == raw_figures(days, None, "seat")  # not the kept old sums
    rows = stored_rows(settled_day)
    assert rollups.rebuild_days([settled_day], now) == 1  # a re-run
    assert stored_rows(settled_day) == rows
    assert CallDayRollup.select().where(CallDayRollup.day == settled_day).count() == 1
    assert_every_view_matches(calls, now)


def test_the_page_shows_the_figures_of_the_raw_calls(calls, browser):
    now = utcnow()
    days = reports.period_from("30d", "", now).days
    counts, _reasons, _per_day = raw_figures(days, None, "tenant")
    page = browser("op").get("/reports?period=30d&by=tenant").get_data(as_text=True)
    assert f'id="total-calls">{sum(c["calls"] for c in counts.values())}<' in page


def test_migration_7_drops_hour_by_hour_rows_and_the_next_view_stores_the_block(calls):
    """Before migration 7 an open day was stored hour by hour (markers 0, 1, ...); those rows are
    dropped, and the next view stores the block again from the call records, with the same figures."""
    from models import database
    from models.calls.rollups import CallHourRollup
    from models.migrations import COVERING_REPORT_INDEXES, _covering_report_indexes, migrator

    now = utcnow()
    today = local_day(now)
    CallHourRollup.create(day=today, hour=0, computed_at=now)  # an hour-by-hour marker and row, as before
    CallDayStats.create(day=today, hour=0, tenant_id=calls.acme.id, calls=999)
    _covering_report_indexes(migrator())
    assert CallHourRollup.select().count() == 0 and CallDayStats.select().where(CallDayStats.hour.is_null(False)).count() == 0
    names = {index.name for table in ("call_day_stats", "call_day_reason") for index in database.get_indexes(table)}
    assert {name for _table, _columns, name in COVERING_REPORT_INDEXES} <= names
    assert_every_view_matches(calls, now)
    assert [h for (h,) in CallHourRollup.select(CallHourRollup.hour).tuples()] == [4]


def test_the_cli_rebuilds_settled_days(calls, cli):
    now = utcnow()
    days = reports.period_from("7d", "", now).days
    first = days[0]
    start, end = local_day_bounds(first)
    rollups.settle_days(days, now)
    CallRecord.update(charge_fen=CallRecord.charge_fen + 100).where(  # corrected after the day was stored
        (CallRecord.created_at >= start) & (CallRecord.created_at < end)).execute()
    assert stored_figures(days, None, "tenant", now) != raw_figures(days, None, "tenant")
    result = cli("reports", "rebuild", "--from", first.isoformat(), "--to", days[-1].isoformat())
    assert result.code == 0 and "6 settled day(s) of 7" in result.out, result  # today is not settled
    assert stored_figures(days, None, "tenant", now) == raw_figures(days, None, "tenant")
    assert cli("reports", "rebuild", "--from", "2026-11-20", "--to", "2026-11-01").code == 2
