"""Monthly statements, computed from the ledger alone so that their totals are the ledger's.

Billing months are calendar months in Asia/Shanghai (the operator's billing month): the month
``2026-03`` runs from 2026-03-01 00:00 +08:00 to 2026-04-01 00:00 +08:00, i.e. from 2026-02-28
16:00 UTC. Entries fall in the month of their ``created_at`` (when they were posted; a call
charged late by reconciliation appears on the day its charge was posted, so a month once
stated never changes).

Invoiceable (C5, Xunzhong 3(13): the invoice covers the service fees paid, not the promotional
part) = the paid, non-promotional part of what the tenant consumed in the month: calls, seat
rent, number rent and adjustments. Top-ups are not invoiced when paid but when consumed;
refunds and forfeits are not services.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from peewee import JOIN, fn

from domain.bounds import EARLIEST_TIME, LATEST_TIME, OutOfRange
from domain.clock import LOCAL_ZONE, local_day
from domain.errors import InvalidInput
from models.calls.tables import CallRecord
from models.ledger.tables import LEDGER_KINDS, LedgerEntry
from models.tenancy.tables import Tenant

BILLING_ZONE = LOCAL_ZONE
MONTH = re.compile(r"^(\d{4})-(\d{2})$")
USAGE_KINDS = ("call", "seat_rent", "number_rent", "adjust")


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """[start, end) of a billing month as naive UTC datetimes."""
    match = MONTH.match(month or "")
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise InvalidInput("invalid month %(month)r: expected YYYY-MM", month=month)
    year, number = int(match.group(1)), int(match.group(2))
    if not EARLIEST_TIME.year <= year <= LATEST_TIME.year:
        raise OutOfRange("month %(month)r must be between %(earliest)s and %(latest)s", month=month,
                         earliest=f"{EARLIEST_TIME:%Y-%m}", latest=f"{LATEST_TIME:%Y-%m}")
    following = (year + 1, 1) if number == 12 else (year, number + 1)
    start = datetime(year, number, 1, tzinfo=BILLING_ZONE).astimezone(timezone.utc).replace(tzinfo=None)
    end = datetime(*following, 1, tzinfo=BILLING_ZONE).astimezone(timezone.utc).replace(tzinfo=None)
    return start, end


@dataclass
class CallDay:
    day: date
    count: int = 0
    minutes: int = 0
    fen: int = 0  # charged (positive)


@dataclass
class Statement:
    tenant_code: str
    month: str
    start_utc: datetime
    end_utc: datetime
    opening_balance_fen: int
    closing_balance_fen: int
    opening_promo_fen: int
    closing_promo_fen: int
    # signed sums of the month's entries by kind (+ in, - out)
    by_kind: dict[str, int] = field(default_factory=dict)
    promo_by_kind: dict[str, int] = field(default_factory=dict)
    call_days: list[CallDay] = field(default_factory=list)

    @property
    def topups_fen(self) -> int:
        return self.by_kind.get("topup", 0)

    @property
    def promo_credit_fen(self) -> int:
        return self.by_kind.get("promo", 0)

    @property
    def calls_fen(self) -> int:
        return -self.by_kind.get("call", 0)

    @property
    def seat_rent_fen(self) -> int:
        return -self.by_kind.get("seat_rent", 0)

    @property
    def number_rent_fen(self) -> int:
        return -self.by_kind.get("number_rent", 0)

    @property
    def refunds_fen(self) -> int:
        return -self.by_kind.get("refund", 0)

    @property
    def forfeits_fen(self) -> int:
        return -self.by_kind.get("forfeit", 0)

    @property
    def adjustments_fen(self) -> int:
        return self.by_kind.get("adjust", 0)

    @property
    def promo_spent_fen(self) -> int:
        """Promotional credit consumed by usage this month."""
        return -sum(self.promo_by_kind.get(kind, 0) for kind in USAGE_KINDS)

    @property
    def invoiceable_fen(self) -> int:
        return -sum(self.by_kind.get(kind, 0) - self.promo_by_kind.get(kind, 0) for kind in USAGE_KINDS)

    def document(self) -> dict:
        return OrderedDict(
            tenant=self.tenant_code, month=self.month, timezone=str(BILLING_ZONE),
            period_start_utc=self.start_utc, period_end_utc=self.end_utc,
            opening_balance_fen=self.opening_balance_fen, opening_promo_fen=self.opening_promo_fen,
            topups_fen=self.topups_fen, promo_credit_fen=self.promo_credit_fen,
            calls=[{"day": d.day.isoformat(), "count": d.count, "minutes": d.minutes, "fen": d.fen}
                   for d in self.call_days],
            calls_count=sum(d.count for d in self.call_days),
            calls_minutes=sum(d.minutes for d in self.call_days), calls_fen=self.calls_fen,
            seat_rent_fen=self.seat_rent_fen, number_rent_fen=self.number_rent_fen,
            refunds_fen=self.refunds_fen, forfeits_fen=self.forfeits_fen, adjustments_fen=self.adjustments_fen,
            closing_balance_fen=self.closing_balance_fen, closing_promo_fen=self.closing_promo_fen,
            promo_spent_fen=self.promo_spent_fen, invoiceable_fen=self.invoiceable_fen,
        )


def _sums_before(tenant: Tenant, before: datetime) -> tuple[int, int]:
    """The balance and promotional balance at ``before``: the tenant's balance caches (always the
    sum of its entries, ledger.append_locked) less what was posted since, in one statement (one
    snapshot), so the cost grows with the entries since ``before``, not with the whole history."""
    posted = (LedgerEntry.select(fn.SUM(LedgerEntry.amount_fen).alias("amount"), fn.SUM(LedgerEntry.promo_fen).alias("promo"))
              .where((LedgerEntry.tenant == tenant.id) & (LedgerEntry.created_at >= before)).alias("posted"))
    row = (Tenant.select(Tenant.balance_fen - fn.COALESCE(posted.c.amount, 0),
                         Tenant.promo_balance_fen - fn.COALESCE(posted.c.promo, 0))
           .from_(Tenant, posted).where(Tenant.id == tenant.id).tuples().get())  # one scan of what was posted since
    return int(row[0]), int(row[1])


def statement(tenant: Tenant, month: str, *, call_days: bool = True) -> Statement:
    """The month's statement; without ``call_days`` the per-day call lines (one row read per call
    of the month) are left out."""
    start, end = month_bounds(month)
    opening, opening_promo = _sums_before(tenant, start)
    in_month = (LedgerEntry.tenant == tenant.id) & (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
    by_kind = {kind: 0 for kind in LEDGER_KINDS}
    promo_by_kind = {kind: 0 for kind in LEDGER_KINDS}
    for kind, amount, promo in (LedgerEntry.select(LedgerEntry.kind, fn.SUM(LedgerEntry.amount_fen),
                                                   fn.SUM(LedgerEntry.promo_fen))
                                .where(in_month).group_by(LedgerEntry.kind).tuples()):
        by_kind[kind] = int(amount)
        promo_by_kind[kind] = int(promo)
    days: dict[date, CallDay] = {}
    calls = [] if not call_days else (LedgerEntry.select(LedgerEntry.created_at, LedgerEntry.amount_fen, CallRecord.billed_minutes)
             .join(CallRecord, join_type=JOIN.LEFT_OUTER, on=(CallRecord.callee_uuid == LedgerEntry.call_uuid))
             .where(in_month & (LedgerEntry.kind == "call")).tuples())
    for created_at, amount, minutes in calls:
        day = local_day(created_at)
        bucket = days.setdefault(day, CallDay(day))
        bucket.count += 1
        bucket.minutes += int(minutes or 0)
        bucket.fen += -int(amount)
    closing = opening + sum(by_kind.values())
    closing_promo = opening_promo + sum(promo_by_kind.values())
    return Statement(tenant.code, month, start, end, opening, closing, opening_promo, closing_promo,
                     by_kind, promo_by_kind, [days[d] for d in sorted(days)])


def month_of(at: datetime) -> str:
    day = local_day(at)
    return f"{day.year:04d}-{day.month:02d}"


def previous_month(month: str) -> str:
    start, _ = month_bounds(month)
    return month_of(start - timedelta(seconds=1))
