"""Report figures over a period (Asia/Shanghai days) per tenant, campaign or seat (issue 17).

Counts come from ``models.calls.rollups`` (settled days stored once, the rest live); complaints from
the complaint table (small), attributed to a campaign or seat through the complained-about call."""
from __future__ import annotations

import calendar
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from peewee import SQL, fn

from models.calls import rollups
from models.seats import rent
from models.calls.tables import CallRecord
from domain.clock import local_day, local_day_bounds
from models.ledger.tables import LedgerEntry
from models.complaints.tables import Complaint
from models.tenancy.tables import Campaign, Tenant
from models.seats.tables import Seat

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
        return rollups.days_between(self.first, self.last)

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
    seat_rent_fen: int | None = None  # None: rents cannot be attributed to this kind of row
    number_rent_fen: int | None = None
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

    @property
    def revenue_fen(self) -> int:
        """Call charges plus the rents attributed to this row."""
        return self.charge_fen + (self.seat_rent_fen or 0) + (self.number_rent_fen or 0)

    def add(self, counts: dict) -> None:
        for name in rollups.COUNTS:
            setattr(self, name, getattr(self, name) + counts[name])

    def add_rent(self, kind: str, fen: int) -> None:
        name = f"{kind}_fen"
        setattr(self, name, (getattr(self, name) or 0) + fen)


@dataclass
class Report:
    period: Period
    by: str
    rows: list[Row]
    total: Row
    per_day: list[tuple[date, int, int]]  # (day, calls, answered)
    reasons: list[tuple[str, int]]  # blocked calls per reason over the period, most first


def build(period: Period, by: str, tenant_id: int | None, now: datetime, live: dict | None = None) -> Report:
    """``live``: the caller's per-request cache of days aggregated from the call records."""
    figures = rollups.period_figures(period.days, now, tenant_id, by, live)
    rows: dict = {}
    total = Row(None, "", seat_rent_fen=0, number_rent_fen=0)
    for (key, tenant), counts in figures.counts.items():
        rows.setdefault(key, Row(key, "", tenant_id=tenant)).add(counts)
        total.add(counts)
    for (key, tenant), tally in figures.reasons.items():
        rows.setdefault(key, Row(key, "", tenant_id=tenant)).reasons.update(tally)
        total.reasons.update(tally)
    per_day = [(day, counts["calls"], counts["answered"]) for day, counts in sorted(figures.per_day.items())]
    _count_rents(period, by, tenant_id, rows, total)
    _count_complaints(period, by, tenant_id, rows, total)
    _label(by, rows)
    ordered = sorted(rows.values(), key=lambda r: (-r.calls, r.label))
    return Report(period, by, ordered, total, per_day, total.reasons.most_common())


#: the partial index's condition (migration 5), written as it is there so that both databases use it
RENT_DEBITS = SQL("kind IN ('seat_rent', 'number_rent')")


def _count_rents(period: Period, by: str, tenant_id: int | None, rows: dict, total: Row) -> None:
    """Seat and number rents debited in the period (ledger), as revenue: per tenant; per seat for a
    seat's rent (its ledger key names the seat); a campaign has no rent of its own, so by campaign
    they count in the total only."""
    start, end = local_day_bounds(period.first)[0], local_day_bounds(period.last)[1]
    query = LedgerEntry.select(LedgerEntry.tenant, LedgerEntry.kind, LedgerEntry.idempotency_key,
                               LedgerEntry.amount_fen).where(
        RENT_DEBITS & (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end))
    if tenant_id is not None:
        query = query.where(LedgerEntry.tenant == tenant_id)
    for tenant, kind, key, amount in query.tuples():
        fen = -amount  # a debit is negative in the ledger
        total.add_rent(kind, fen)
        if by == "tenant":
            rows.setdefault(tenant, Row(tenant, "", tenant_id=tenant)).add_rent(kind, fen)
        elif by == "seat" and kind == "seat_rent":
            seat = rent.seat_of_rent_key(key or "")
            rows.setdefault(seat, Row(seat, "", tenant_id=tenant)).add_rent(kind, fen)
    if by != "campaign":
        for row in rows.values():  # a row without rent in the period earned none
            row.seat_rent_fen = row.seat_rent_fen or 0
            if by == "tenant":
                row.number_rent_fen = row.number_rent_fen or 0


def _count_complaints(period: Period, by: str, tenant_id: int | None, rows: dict, total: Row) -> None:
    start, end = local_day_bounds(period.first)[0], local_day_bounds(period.last)[1]
    query = Complaint.select(Complaint.tenant, Complaint.call_uuid).where(
        (Complaint.received_at >= start) & (Complaint.received_at < end))
    if tenant_id is not None:
        query = query.where(Complaint.tenant == tenant_id)
    if by == "tenant":
        for tenant, count in query.select(Complaint.tenant, fn.COUNT(Complaint.id)).group_by(Complaint.tenant).tuples():
            total.complaints += count
            rows.setdefault(tenant, Row(tenant, "", tenant_id=tenant)).complaints += count
        return
    complaints = list(query.select(Complaint.tenant, Complaint.call_uuid, fn.COUNT(Complaint.id))
                      .group_by(Complaint.tenant, Complaint.call_uuid).tuples())
    calls = {}
    uuids = [uuid for _, uuid, _ in complaints if uuid]
    if uuids:
        for agent, callee, campaign, seat in (CallRecord.select(CallRecord.agent_uuid, CallRecord.callee_uuid,
                                                                CallRecord.campaign, CallRecord.seat)
                                              .where(CallRecord.agent_uuid.in_(uuids) | CallRecord.callee_uuid.in_(uuids))
                                              .tuples()):
            calls[agent] = calls[callee] = (campaign, seat)
    for tenant, uuid, count in complaints:
        total.complaints += count
        campaign, seat = calls.get(uuid, (None, None))
        key = campaign if by == "campaign" else seat
        rows.setdefault(key, Row(key, "", tenant_id=tenant)).complaints += count


def _label(by: str, rows: dict) -> None:
    ids = [k for k in rows if k is not None]
    tenants = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    if by == "tenant":
        names = tenants
    elif by == "campaign":
        names = dict(Campaign.select(Campaign.id, Campaign.code).where(Campaign.id.in_(ids)).tuples()) if ids else {}
    else:
        names = {seat: f"{user}@{domain}" for seat, user, domain in Seat.select(Seat.id, Seat.sip_user, Seat.sip_domain)
                 .where(Seat.id.in_(ids)).tuples()} if ids else {}
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


def balances(tenants: list[Tenant], now: datetime, live: dict | None = None) -> list[BalanceRow]:
    today = local_day(now)
    # settled days only: their sums are stored, so the balances never aggregate calls on a view
    last = today - timedelta(days=1) if rollups.is_settled(today - timedelta(days=1), now) else today - timedelta(days=2)
    days = rollups.days_between(last - timedelta(days=SPEND_DAYS - 1), last)
    figures = rollups.period_figures(days, now, None, "tenant", live, detail=False)
    spend = Counter({tenant_id: counts["charge_fen"] for (tenant_id, _), counts in figures.counts.items()})
    rows = []
    for tenant in tenants:
        daily = spend[tenant.id] // SPEND_DAYS
        left = max(tenant.balance_fen, 0) / daily if daily > 0 else None
        rows.append(BalanceRow(tenant, daily, left))
    return rows


def cdr_mismatches(period: Period, tenant_id: int | None, before: str, size: int):
    """Calls whose CDR billsec differed from the app's, newest first, over the partial index."""
    from .paging import by_id

    start, end = local_day_bounds(period.first)[0], local_day_bounds(period.last)[1]
    query = CallRecord.select().where(SQL("cdr_mismatch") & (CallRecord.created_at >= start)
                                      & (CallRecord.created_at < end))
    if tenant_id is not None:
        query = query.where(CallRecord.tenant == tenant_id)
    return by_id(query, CallRecord.id, before, size)
