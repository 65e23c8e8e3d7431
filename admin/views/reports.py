"""Reports over a period: calls, answer rate, average billed minutes, blocked share by reason,
revenue and complaints per 1,000 connected calls, per tenant, campaign or seat; a CSV of each
table; CDR mismatches; balances against daily spend (tenant admins see their own tenant only)."""
from __future__ import annotations

import io

from flask import Blueprint, Response, current_app, g, render_template, request
from flask_babel import gettext as _

from models.complaints.audit import audit
from domain.clock import utcnow
from models.csv_export import CsvWriter

from .. import charts, reports
from ..reasons import reason_label
from ..report_rows import table_rows
from ..scope import chosen_tenant, visible_tenants

blueprint = Blueprint("reports", __name__, url_prefix="/reports")

MISMATCH_PAGE = 50
CSV_COLUMNS = ["name", "calls", "answered", "answer_rate", "average_billed_minutes", "blocked", "blocked_share",
               "call_revenue_fen", "seat_rent_fen", "number_rent_fen", "revenue_fen", "complaints",
               "complaints_per_1000_connected", "cdr_mismatches"]


def _choice():
    tenant = chosen_tenant()
    now = utcnow()
    period = reports.period_from(request.args.get("period", "today"), request.args.get("month", ""), now)
    by = request.args.get("by", "tenant")
    if by not in reports.GROUPINGS:
        by = "tenant"
    return tenant, now, period, by


@blueprint.route("")
def index():
    tenant, now, period, by = _choice()
    live = {}  # days aggregated from the call records, shared by the report and the balances
    report = reports.build(period, by, tenant.id if tenant else None, now, live)
    days = [f"{d:%m-%d}" for d, _, _ in report.per_day]
    trend = charts.calls_per_day(days, [c for _, c, _ in report.per_day], [a for _, _, a in report.per_day],
                                 title=_("每日呼叫量"), total_label=_("呼叫"), answered_label=_("接通"),
                                 empty=_("所选期间没有呼叫"))
    reason_chart = charts.blocked_reasons([(reason_label(code), n) for code, n in report.reasons],
                                          title=_("拦截原因"), empty=_("所选期间没有被拦截的呼叫"))
    settings = current_app.extensions["fsapp_settings"]
    tenants = visible_tenants()
    shown_tenants = [tenant] if tenant else tenants
    mismatches = reports.cdr_mismatches(period, tenant.id if tenant else None, request.args.get("before", ""),
                                        MISMATCH_PAGE)
    return render_template("reports.html", report=report, trend=trend, reason_chart=reason_chart,
                           tenant=tenant, tenants=tenants, periods=reports.PERIODS,
                           groupings=reports.GROUPINGS, balances=reports.balances(shown_tenants, now, live),
                           low_days=settings.report_low_balance_days, mismatches=mismatches,
                           reason_names={code: reason_label(code) for code, _n in report.reasons},  # once, not per row
                           table_rows=table_rows)


def _ratio(value: float | None, digits: int = 4):
    """A computed ratio as a number cell, or an empty cell when it has no denominator."""
    return "" if value is None else round(value, digits)


def _blank(value: int | None):
    """A rent that cannot be attributed to this kind of row is an empty cell, not a zero."""
    return "" if value is None else value


@blueprint.route("/export.csv")
def export():
    tenant, now, period, by = _choice()
    report = reports.build(period, by, tenant.id if tenant else None, now)
    audit(g.user.username, "reports.export", tenant=tenant.id if tenant else None, target="reports",
          period=period.kind, first=period.first.isoformat(), last=period.last.isoformat(), by=by)
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly
    writer = CsvWriter(buffer, CSV_COLUMNS)
    for row in report.rows:
        writer.writerow([row.label, row.calls, row.answered, _ratio(row.answer_rate), _ratio(row.average_minutes, 2),
                         row.blocked, _ratio(row.blocked_share), row.charge_fen, _blank(row.seat_rent_fen),
                         _blank(row.number_rent_fen), row.revenue_fen, row.complaints,
                         _ratio(row.complaints_per_thousand, 2), row.cdr_mismatches])
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=report-{by}-{period.first:%Y%m%d}-{period.last:%Y%m%d}.csv")
    return response
