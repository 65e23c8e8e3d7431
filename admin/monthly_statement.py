"""The month's statement for the money page.

The metering team's ``models.statements`` is the statement (the same numbers as their CLI);
this module only shapes it for the template. Where that module is not installed yet, the same
sums are taken from the ledger here (the ledger is the source of truth for both)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from peewee import fn

from models.money import LEDGER_KINDS, LedgerEntry
from models.tenancy import Tenant

from .formatting import LOCAL_ZONE

try:
    from models import statements as shared_statements
except ImportError:  # pragma: no cover - depends on which parts of the product are installed
    shared_statements = None

USAGE_KINDS = ("call", "seat_rent", "number_rent", "adjust")


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[first day, first day of next month) of a local (Asia/Shanghai) month, as naive UTC."""
    following = date(month.year + (month.month == 12), month.month % 12 + 1, 1)

    def utc(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE).astimezone(timezone.utc).replace(tzinfo=None)

    return utc(month), utc(following)


@dataclass
class StatementLine:
    kind: str
    amount_fen: int  # signed: + in, - out
    promo_fen: int


@dataclass
class MonthStatement:
    lines: list[StatementLine]
    opening_fen: int
    closing_fen: int
    invoiceable_fen: int  # the paid (non-promotional) part of what was consumed (C5)


def statement_for(tenant: Tenant, month: date) -> MonthStatement:
    if shared_statements is not None:
        shared = shared_statements.statement(tenant, f"{month:%Y-%m}")
        lines = [StatementLine(kind, shared.by_kind.get(kind, 0), shared.promo_by_kind.get(kind, 0))
                 for kind in LEDGER_KINDS if shared.by_kind.get(kind)]
        return MonthStatement(lines, shared.opening_balance_fen, shared.closing_balance_fen, shared.invoiceable_fen)
    return _from_ledger(tenant, month)


def _from_ledger(tenant: Tenant, month: date) -> MonthStatement:
    start, end = month_bounds(month)
    in_month = (LedgerEntry.tenant == tenant) & (LedgerEntry.created_at >= start) & (LedgerEntry.created_at < end)
    totals = {kind: (int(amount), int(promo)) for kind, amount, promo in (
        LedgerEntry.select(LedgerEntry.kind, fn.SUM(LedgerEntry.amount_fen), fn.SUM(LedgerEntry.promo_fen))
        .where(in_month).group_by(LedgerEntry.kind).tuples())}
    lines = [StatementLine(kind, *totals[kind]) for kind in LEDGER_KINDS if totals.get(kind, (0, 0))[0]]
    opening = int(LedgerEntry.select(fn.COALESCE(fn.SUM(LedgerEntry.amount_fen), 0))
                  .where((LedgerEntry.tenant == tenant) & (LedgerEntry.created_at < start)).scalar())
    invoiceable = -sum(line.amount_fen - line.promo_fen for line in lines if line.kind in USAGE_KINDS)
    return MonthStatement(lines, opening, opening + sum(line.amount_fen for line in lines), invoiceable)
