"""Money: balance (with what live calls hold), the monthly statement and the ledger (C2-C5)."""
from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, render_template, request
from domain.clock import local_day, utcnow
from models.ledger import balances
from models.ledger.tables import LedgerEntry

from ..monthly_statement import month_bounds, statement_for
from ..paging import by_columns
from ..scope import chosen_tenant, visible_tenants

blueprint = Blueprint("money", __name__, url_prefix="/money")

LEDGER_PAGE = 100


def _month(text: str) -> date:
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text or ""):
        return date(int(text[:4]), int(text[5:7]), 1)
    today = local_day(utcnow())
    return date(today.year, today.month, 1)


@blueprint.route("")
def index():
    tenant = chosen_tenant()
    month = _month(request.args.get("month", ""))
    context = dict(tenant=tenant, tenants=visible_tenants(), month=month)
    if tenant is None:
        return render_template("money.html", **context)
    money = balances.available(tenant, utcnow())
    start, end = month_bounds(month)
    entries = (LedgerEntry.select().where((LedgerEntry.tenant == tenant) & (LedgerEntry.created_at >= start)
                                          & (LedgerEntry.created_at < end)))
    # newest first in the order of the (tenant, created_at) index: no sort of the month's entries
    page = by_columns(entries, (LedgerEntry.created_at, LedgerEntry.id), lambda e: (e.created_at, e.id),
                      request.args.get("after", ""), LEDGER_PAGE, descending=True)
    return render_template("money.html", **context, held_fen=money.held_fen, available_fen=money.available_fen,
                           statement=statement_for(tenant, month), entries=page.rows, page=page)
