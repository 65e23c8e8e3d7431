"""The month's statement for the money page.

Uses the metering team's ``models.statements`` when it is installed; until then, a plain sum of
the month's ledger by kind (the ledger is the source of truth for both)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from peewee import fn

from models.money import LEDGER_KINDS, LedgerEntry
from models.tenancy import Tenant

from .formatting import LOCAL_ZONE


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first day, first day of next month) of a local (Asia/Shanghai) month, as naive UTC."""
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)

    def utc(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(month), utc(following)


@dataclass
class StatementLine:
    kind: str
    count: int
    amount_fen: int
    promo_fen: int


@dataclass
class MonthStatement:
    lines: list[StatementLine]
    opening_fen: int
    closing_fen: int

    @property
    def total_in_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.amount_fen > 0)

    @property
    def total_out_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines if line.amount_fen < 0)

    @property
    def invoiceable_fen(self) -> int:
        """Paid top-ups only: promotional credit is never invoiced (C5)."""
        return sum(line.amount_fen - line.promo_fen for line in self.lines if line.kind == "topup")


def statement_for(tenant: Tenant, month: date) -> MonthStatement:
    start, end = month_bounds(month)
    in_month = (LedgerEntry.tenant == tenant) & (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
    totals = {kind: (count, int(amount), int(promo)) for kind, count, amount, promo in (
        LedgerEntry.select(LedgerEntry.kind, fn.COUNT(LedgerEntry.id), fn.SUM(LedgerEntry.amount_fen),
                           fn.SUM(LedgerEntry.promo_fen))
        .where(in_month).group_by(LedgerEntry.kind).tuples())}
    lines = [StatementLine(kind, *totals[kind]) for kind in LEDGER_KINDS if kind in totals]
    before = (LedgerEntry.select(LedgerEntry.balance_after_fen)
              .where((LedgerEntry.tenant == tenant) & (LedgerEntry.created_at < start))
              .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).first())
    opening = before.balance_after_fen if before else 0
    return MonthStatement(lines, opening, opening + sum(line.amount_fen for line in lines))
