"""The month's statement for the money page: ``models.ledger.statements`` (the same numbers as the
CLI's statement), shaped as lines for the template."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.ledger import statements
from models.ledger.tables import LEDGER_KINDS
from models.tenancy.tables import Tenant


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


def month_bounds(month: date):
    return statements.month_bounds(f"{month:%Y-%m}")


def statement_for(tenant: Tenant, month: date) -> MonthStatement:
    shared = statements.statement(tenant, f"{month:%Y-%m}", call_days=False)  # the page shows no call days
    lines = [StatementLine(kind, shared.by_kind.get(kind, 0), shared.promo_by_kind.get(kind, 0))
             for kind in LEDGER_KINDS if shared.by_kind.get(kind)]
    return MonthStatement(lines, shared.opening_balance_fen, shared.closing_balance_fen, shared.invoiceable_fen)
