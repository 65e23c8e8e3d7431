"""Tenants (operator and auditor): status, bans, and the provisioning forms the CLI also offers.

Every form is validated by the model services (models.tenancy, models.seats, models.ledger.topups),
the code behind `fsapp tenant|seat|number|topup`; an error is shown next to its form and nothing
is written."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.ledger import topups
from models.seats import number_leases
from models.seats import seats
from models.tenancy import tenants
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.tenancy.tenants import active_bans
from models.seats.seats import seats_in_use
from models.tenancy.tables import BAN_FUNCTIONS, Tenant, TenantBan
from models.seats.tables import NumberLease, Seat

from ..auth import roles
from ..i18n import error_text
from ..form_values import local_datetime, optional_whole_number, whole_number, yuan_to_fen
from ..paging import by_columns

blueprint = Blueprint("tenants", __name__, url_prefix="/tenants")

PAGE = 100


def _settings():
    return current_app.extensions["fsapp_settings"]


def _list_page(status=200, form=None, error=""):
    page = by_columns(Tenant.select(), (Tenant.code,), lambda t: (t.code,), request.args.get("after", ""), PAGE)
    now = utcnow()
    bans = {}
    for ban in TenantBan.select().where(TenantBan.tenant.in_([t.id for t in page.rows]) & TenantBan.lifted_at.is_null()
                                        & (TenantBan.until.is_null() | (TenantBan.until > now))):
        bans.setdefault(ban.tenant_id, []).append(ban)
    return render_template("tenants.html", tenants=page.rows, page=page, bans=bans, form=form or {},
                           error=error), status


@blueprint.route("")
@roles("operator", "auditor")
def index():
    return _list_page()


@blueprint.route("", methods=["POST"])
@roles("operator")
def create():
    form = request.form
    try:
        inbound = form.get("inbound_rate", "").strip()
        tenant = tenants.add_tenant(
            form.get("code", "").strip(), name=form.get("name", ""), display_name=form.get("display_name", ""),
            hotline=form.get("hotline", ""), seats=whole_number(form.get("seats", ""), _("坐席数")),
            rate=yuan_to_fen(form.get("rate", ""), _("外呼费率")),
            inbound_rate=yuan_to_fen(inbound, _("呼入费率")) if inbound else None,
            connect_fee=yuan_to_fen(form.get("connect_fee", "") or "0", _("接通费")),
            seat_rent=yuan_to_fen(form.get("seat_rent", "") or "0", _("坐席月租")),
            industry=form.get("industry", ""), billing_increment_s=_settings().billing_increment_s,
            region=_settings().default_region, actor=g.user.username)
    except InvalidInput as exc:
        return _list_page(400, form, error_text(exc))
    flash(_("已创建租户 %(code)s（待审核）", code=tenant.code))
    return redirect(url_for("tenants.detail", code=tenant.code))


def _tenant(code: str) -> Tenant:
    tenant = Tenant.get_or_none(Tenant.code == code)
    if tenant is None:
        abort(404)
    return tenant


def _detail_page(tenant: Tenant, status=200, errors=None, form=None, issued=None):
    return render_template(
        "tenant_detail.html", tenant=tenant, bans=active_bans(tenant), used=seats_in_use(tenant),
        seats=list(Seat.select().where(Seat.tenant == tenant).order_by(Seat.sip_user)),
        leases=list(NumberLease.select().where(NumberLease.tenant == tenant).order_by(NumberLease.number)),
        functions=BAN_FUNCTIONS, errors=errors or {}, form=form or {}, now=utcnow(),
        seat_days=_settings().seat_period_days, number_days=_settings().number_period_days, issued=issued,
    ), status


@blueprint.route("/<code>")
@roles("operator", "auditor")
def detail(code: str):
    return _detail_page(_tenant(code))


def _run(code: str, form_name: str, action, done: str):
    """Run one provisioning action; on bad input re-render the page with the error by its form."""
    tenant = _tenant(code)
    try:
        action(tenant, request.form)
    except InvalidInput as exc:
        return _detail_page(tenant, 400, {form_name: error_text(exc)}, request.form)
    flash(done)
    return redirect(url_for("tenants.detail", code=tenant.code))


@blueprint.route("/<code>/status", methods=["POST"])
@roles("operator")
def set_status(code: str):
    def action(tenant, form):
        approved = form.get("industry_approved", "")
        tenants.set_tenant(
            tenant.code, status=form.get("status") or None,
            industry_approved=None if approved == "" else approved == "1",
            termination_kind=form.get("termination_kind", ""), actor=g.user.username)

    return _run(code, "status", action, _("已更新租户状态"))


@blueprint.route("/<code>/ban", methods=["POST"])
@roles("operator")
def ban(code: str):
    def action(tenant, form):
        until = local_datetime(form.get("until", ""), _("截止时间")) if form.get("until", "").strip() else None
        tenants.ban_tenant(tenant.code, function=form.get("function", ""), until=until,
                                reason=form.get("reason", "").strip(), actor=g.user.username)

    return _run(code, "ban", action, _("已封禁"))


@blueprint.route("/<code>/unban", methods=["POST"])
@roles("operator")
def unban(code: str):
    return _run(code, "ban", lambda tenant, form: tenants.lift_ban(
        tenant.code, form.get("function", ""), actor=g.user.username), _("已解除封禁"))


@blueprint.route("/<code>/seats", methods=["POST"])
@roles("operator")
def add_seat(code: str):
    """The new seat's SIP password is shown once, on this very response (no redirect: a flashed
    message would carry it in the session cookie), and is never stored (RULEBOOK D7)."""
    tenant = _tenant(code)
    form = request.form
    try:
        seat = seats.add_seat(
            tenant.code, form.get("address", ""), role=form.get("role", "agent"),
            days=optional_whole_number(form.get("days", ""), _("天数")) or _settings().seat_period_days,
            pin_number=form.get("pin_number", "").strip() or None, campaign=form.get("campaign", "").strip() or None,
            region=_settings().default_region, period_days=_settings().seat_period_days, actor=g.user.username)
    except InvalidInput as exc:
        return _detail_page(tenant, 400, {"seat": error_text(exc)}, form)
    return _detail_page(Tenant.get_by_id(tenant.id), issued=(seat.address, seat.issued_password))


@blueprint.route("/<code>/numbers", methods=["POST"])
@roles("operator")
def lease_number(code: str):
    def action(tenant, form):
        number_leases.lease_number(
            tenant.code, form.get("number", ""),
            days=optional_whole_number(form.get("days", ""), _("天数")) or _settings().number_period_days,
            monthly_fee=yuan_to_fen(form.get("monthly_fee", "") or "0", _("月租")),
            max_calls=optional_whole_number(form.get("max_calls", ""), _("并发数")) or _settings().number_max_calls,
            inbound_mode=form.get("inbound_mode", "simultaneous"), region=_settings().default_region,
            actor=g.user.username)

    return _run(code, "number", action, _("已租用号码"))


@blueprint.route("/<code>/topup", methods=["POST"])
@roles("operator")
def topup(code: str):
    def action(tenant, form):
        topups.topup(tenant.code, yuan_to_fen(form.get("amount", ""), _("金额")),
                           promo=form.get("promo") == "1", note=form.get("note", "").strip(),
                           actor=g.user.username)

    return _run(code, "topup", action, _("已充值"))
