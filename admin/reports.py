"""Report figures over a period (Asia/Shanghai days) per tenant, campaign or seat (issue 17).

Counts come from ``models.call_stats`` (settled days stored once, the rest live); complaints from
the complaint table (small), attributed to a campaign or seat through the complained-about call."""
from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from models import call_stats
from models.calls import CallRecord
from models.clock import local_day, local_day_bounds
from models.people import Complaint
from models.tenancy import Campaign, Seat, Tenant

PERIODS = ("today", "7d", "30d", "month")
GROUPINGS = ("tenant", "campaign", "seat")
SPEND_DAYS = 7  # the daily spend a balance is measured against: the average of the last 7 settled days


@dataclass(frozen=True)
class Period:
    kind: str
    first: date
    last: date

    @property
    def days(self) -> list[date]:
        return call_stats.days_between(self.first, self.last)

    @property
    def month_text(self) -> str:
        return f"{self.first:%Y-%m}"


def period_from(kind: str, month: str, now: datetime) -> Period:
    today = local_day(now)
    if kind == "7d":
        return Period(kind, today - timedelta(days=6), today)
    if kind == "30d":
        return Period(kind, today - timedelta(days=29), today)
    if kind == "month":
        if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
            first = date(int(month[:4]), int(month[5:7]), 1)
        else:
            first = today.replace(day=1)
        if first > today:
            first = today.replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        return Period(kind, first, min(last, today))
    return Period("today", today, today)


@dataclass
class Row:
    key: int | None
    label: str
    tenant_id: int | None = None
    calls: int = 0
    blocked: int = 0
    answered: int = 0
    billed_minutes: int = 0
    charge_fen: int = 0
    cdr_mismatches: int = 0
    complaints: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def admitted(self) -> int:
        return self.calls - self.blocked

    @property
    def answer_rate(self) -> float | None:
        return self.answered / self.admitted if self.admitted else None

    @property
    def average_minutes(self) -> float | None:
        return self.billed_minutes / self.answered if self.answered else None

    @property
    def blocked_share(self) -> float | None:
        return self.blocked / self.calls if self.calls else None

    @property
    def complaints_per_thousand(self) -> float | None:
        """A15: complaints per 1,000 connected calls."""
        return self.complaints * 1000 / self.answered if self.answered else None

    def add(self, counts: dict) -> None:
        for name in call_stats.COUNTS:
            setattr(self, name, getattr(self, name) + counts[name])


@dataclass
class Report:
    period: Period
    by: str
    rows: list[Row]
    total: Row
    per_day: list[tuple[date, int, int]]  # (day, calls, answered)
    reasons: list[tuple[str, int]]  # blocked calls per reason over the period, most first


_KEY_INDEX = {"tenant": 0, "campaign": 1, "seat": 2}


def build(period: Period, by: str, tenant_id: int | None, now: datetime) -> Report:
    index = _KEY_INDEX[by]
    rows: dict = {}
    total = Row(None, "")
    per_day = []
    for day in call_stats.figures(period.days, now, tenant_id):
        day_calls = day_answered = 0
        for key, counts in day.counts.items():
            row = rows.setdefault(key[index], Row(key[index], "", tenant_id=key[0]))
            row.add(counts)
            total.add(counts)
            day_calls += counts["calls"]
            day_answered += counts["answered"]
        for key, tally in day.reasons.items():
            rows.setdefault(key[index], Row(key[index], "", tenant_id=key[0])).reasons.update(tally)
            total.reasons.update(tally)
        per_day.append((day.day, day_calls, day_answered))
    _count_complaints(period, by, tenant_id, rows, total)
    _label(by, rows)
    ordered = sorted(rows.values(), key=lambda r: (-r.calls, r.label))
    return Report(period, by, ordered, total, per_day, total.reasons.most_common())


def _count_complaints(period: Period, by: str, tenant_id: int | None, rows: dict, total: Row) -> None:
    start, end = local_day_bounds(period.first)[0], local_day_bounds(period.last)[1]
    query = Complaint.select(Complaint.tenant, Complaint.call_uuid).where(
        (Complaint.received_at >= start) & (Complaint.received_at < end))
    if tenant_id is not None:
        query = query.where(Complaint.tenant == tenant_id)
    complaints = list(query.tuples())
    calls = {}
    uuids = [uuid for _, uuid in complaints if uuid]
    if by != "tenant" and uuids:
        for agent, callee, campaign, seat in (CallRecord.select(CallRecord.agent_uuid, CallRecord.callee_uuid,
                                                                CallRecord.campaign, CallRecord.seat)
                                              .where(CallRecord.agent_uuid.in_(uuids) | CallRecord.callee_uuid.in_(uuids))
                                              .tuples()):
            calls[agent] = calls[callee] = (campaign, seat)
    for tenant, uuid in complaints:
        total.complaints += 1
        if by == "tenant":
            key = tenant
        else:
            campaign, seat = calls.get(uuid, (None, None))
            key = campaign if by == "campaign" else seat
        rows.setdefault(key, Row(key, "", tenant_id=tenant)).complaints += 1


def _label(by: str, rows: dict) -> None:
    ids = [k for k in rows if k is not None]
    tenants = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    if by == "tenant":
        names = tenants
    elif by == "campaign":
        names = dict(Campaign.select(Campaign.id, Campaign.code).where(Campaign.id.in_(ids)).tuples()) if ids else {}
    else:
        names = {s.id: s.address for s in Seat.select().where(Seat.id.in_(ids))} if ids else {}
    for key, row in rows.items():
        name = names.get(key, "")
        if by != "tenant" and name:
            name = f"{tenants.get(row.tenant_id, '')} · {name}"
        row.label = name


# --- balances against daily spend -----------------------------------------------------------


@dataclass
class BalanceRow:
    tenant: Tenant
    daily_spend_fen: int  # average over the last SPEND_DAYS settled days
    days_left: float | None  # None: nothing spent, the balance lasts

    def low(self, threshold_days: float) -> bool:
        return self.days_left is not None and self.days_left < threshold_days


def balances(tenants: list[Tenant], now: datetime) -> list[BalanceRow]:
    today = local_day(now)
    days = call_stats.days_between(today - timedelta(days=SPEND_DAYS), today - timedelta(days=1))
    spend = Counter()
    for day in call_stats.figures(days, now):
        for (tenant_id, _campaign, _seat), counts in day.counts.items():
            spend[tenant_id] += counts["charge_fen"]
    rows = []
    for tenant in tenants:
        daily = spend[tenant.id] // SPEND_DAYS
        left = max(tenant.balance_fen, 0) / daily if daily > 0 else None
        rows.append(BalanceRow(tenant, daily, left))
    return rows


def cdr_mismatches(period: Period, tenant_id: int | None, before: str, size: int):
    """Calls whose CDR billsec differed from the app's, newest first, over the partial index."""
    from peewee import SQL

    from .paging import by_id

    start, end = local_day_bounds(period.first)[0], local_day_bounds(period.last)[1]
    query = CallRecord.select().where(SQL("cdr_mismatch") & (CallRecord.created_at >= start)
                                      & (CallRecord.created_at < end))
    if tenant_id is not None:
        query = query.where(CallRecord.tenant == tenant_id)
    return by_id(query, CallRecord.id, before, size)
