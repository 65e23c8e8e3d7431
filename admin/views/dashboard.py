"""Dashboard: live calls, today's calls, answer rate, blocked reasons, charges, with charts."""
from __future__ import annotations

from flask import Blueprint, render_template
from flask_babel import gettext as _

from models.calls.tables import Hold
from domain.clock import utcnow

from .. import charts
from ..dashboard_stats import live_holds, summarize_today
from ..reasons import reason_label
from ..scope import chosen_tenant, visible_tenants

blueprint = Blueprint("dashboard", __name__)

REFRESH_SECONDS = 10  # admin/static/live-refresh.js re-reads the live figures this often


@blueprint.route("/")
def index():
    tenant = chosen_tenant()
    now = utcnow()
    summary = summarize_today(tenant.id if tenant else None, now)
    live = list(live_holds(tenant.id if tenant else None, now).order_by(Hold.created_at.desc()).limit(20))
    hour_chart = charts.calls_per_hour(summary.calls_per_hour, summary.answered_per_hour,
                                       title=_("今日每小时呼叫量"), total_label=_("呼叫"),
                                       answered_label=_("接通"), empty=_("今天还没有呼叫"))
    reason_chart = charts.blocked_reasons([(reason_label(code), n) for code, n in summary.blocked_by_reason],
                                          title=_("今日拦截原因"), empty=_("今天没有被拦截的呼叫"))
    return render_template("dashboard.html", tenant=tenant, tenants=visible_tenants(), summary=summary,
                           live=live, now=now, hour_chart=hour_chart, reason_chart=reason_chart,
                           refresh_seconds=REFRESH_SECONDS)
