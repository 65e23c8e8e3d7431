"""A tenant's settings and the operator's heavier acts on it: rates, fees, purchased seats,
industry approval, calling windows, hotline, display name, SIP domain (`fsapp tenant set`),
refunds and adjustments (`fsapp ledger refund|adjust`) and termination (`fsapp tenant terminate`,
C4, behind a confirm step). A tenant admin may narrow their own tenant's calling windows (A8:
only inside the platform's) and sees the rest read-only; an auditor reads.

Every act goes through the models function the CLI calls; a refusal is shown by its form with
nothing written; a success redirects with a message (POST/redirect/GET)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.tenancy import tenants
from domain.errors import InvalidInput
from models.ledger.payouts import pay_out
from models.tenancy.tables import Tenant
from models.ledger.termination import TERMINATION_KINDS, terminate
from domain.windows import format_windows

from ..auth import roles
from ..confirm import Field, confirm_page
from ..form_values import whole_number, yuan_to_fen
from ..formatting import yuan
from ..i18n import error_text
from ..scope import own_tenant_id

blueprint = Blueprint("tenant_ops", __name__, url_prefix="/tenants")

PAYOUT_KINDS = ("refund", "adjust")


def _settings():
    return current_app.extensions["fsapp_settings"]


def _tenant(code: str) -> Tenant:
    """The tenant, if the user may see it (a tenant admin only their own: 404 otherwise)."""
    tenant = Tenant.get_or_none(Tenant.code == code)
    if tenant is None or (own_tenant_id() is not None and tenant.id != own_tenant_id()):
        abort(404)
    return tenant


def _page(tenant: Tenant, status: int = 200, errors=None, form=None):
    return render_template(
        "tenant_settings.html", tenant=tenant, errors=errors or {}, form=form or {},
        platform_windows=format_windows(_settings().calling_windows), payout_kinds=PAYOUT_KINDS,
    ), status


@blueprint.route("/<code>/settings")
def settings(code: str):
    return _page(_tenant(code))


def _changed_fen(form, name: str, what: str, current: int) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    value = yuan_to_fen(text, what)
    return None if value == current else value


def _changed_text(form, name: str, current: str) -> str | None:
    text = form.get(name, "").strip()
    return None if text == "" or text == current else text


@blueprint.route("/<code>/settings", methods=["POST"])
@roles("operator")
def update(code: str):
    tenant = _tenant(code)
    form = request.form
    try:
        seats_text = form.get("seats", "").strip()
        seats = whole_number(seats_text, _("已购坐席")) if seats_text else None
        approved = form.get("industry_approved", "")
        industry_approved = None if approved not in ("0", "1") or (approved == "1") == tenant.industry_approved \
            else approved == "1"
        tenants.set_tenant(
            tenant.code,
            seats=None if seats == tenant.seats_purchased else seats,
            rate=_changed_fen(form, "rate", _("外呼费率"), tenant.rate_out_fen),
            inbound_rate=_changed_fen(form, "inbound_rate", _("呼入费率"), tenant.rate_in_fen),
            connect_fee=_changed_fen(form, "connect_fee", _("接通费"), tenant.connect_fee_fen),
            seat_rent=_changed_fen(form, "seat_rent", _("坐席月租"), tenant.seat_rent_fen),
            industry_approved=industry_approved,
            display_name=_changed_text(form, "display_name", tenant.display_name),
            hotline=_changed_text(form, "hotline", tenant.hotline),
            sip_domain=_changed_text(form, "sip_domain", tenant.sip_domain or ""),
            region=_settings().default_region, actor=g.user.username)
    except InvalidInput as exc:
        return _page(tenant, 400, {"settings": error_text(exc)}, form)
    flash(_("已保存租户 %(code)s 的设置", code=tenant.code))
    return redirect(url_for("tenant_ops.settings", code=tenant.code))


@blueprint.route("/<code>/windows", methods=["POST"])
@roles("operator", "tenant_admin")
def windows(code: str):
    """A tenant's own calling windows, only inside the platform's (A8); empty: the platform's."""
    tenant = _tenant(code)
    try:
        tenants.set_tenant(tenant.code, windows=request.form.get("windows", ""),
                                platform_windows=_settings().calling_windows, actor=g.user.username)
    except InvalidInput as exc:
        return _page(tenant, 400, {"windows": error_text(exc)}, request.form)
    flash(_("已保存呼叫时段"))
    return redirect(url_for("tenant_ops.settings", code=tenant.code))


@blueprint.route("/<code>/payout", methods=["POST"])
@roles("operator")
def payout(code: str):
    """A refund of paid money or an adjustment out of the account, never below what live calls
    hold (A13; `fsapp ledger refund|adjust`)."""
    tenant = _tenant(code)
    form = request.form
    try:
        kind = form.get("kind", "")
        if kind not in PAYOUT_KINDS:
            raise InvalidInput(_("请选择退款或调整"))
        note = form.get("note", "").strip()
        if not note:
            raise InvalidInput(_("请填写备注（退款或调整的原因）"))
        done = pay_out(tenant.id, kind, yuan_to_fen(form.get("amount", ""), _("金额")), note=note,
                       actor=g.user.username)
    except InvalidInput as exc:
        return _page(tenant, 400, {"payout": error_text(exc)}, form)
    flash(_("已从租户 %(code)s 扣出 %(amount)s（%(kind)s）", code=tenant.code, amount=yuan(done.amount_fen),
            kind=_("退款") if kind == "refund" else _("调整")))
    return redirect(url_for("tenant_ops.settings", code=tenant.code))


def _terminate_confirm(tenant: Tenant, form=None, error: str = "", status: int = 200):
    return confirm_page(
        title=_("终止租户 %(code)s", code=tenant.code),
        warning=_("终止后不可恢复：全部坐席停用、号码释放、状态变为已终止。违规终止没收余额；运营方原因终止退还已付余额（赠送额度不退）。进行中通话的冻结金额在通话结束后结算。"),
        facts=[(_("租户"), f"{tenant.code} · {tenant.name}"), (_("余额"), yuan(tenant.balance_fen))],
        fields=[Field("kind", _("终止类型"), [("violation", _("违规（没收余额）")),
                                              ("operator_fault", _("运营方原因（退还余额）"))], required=True),
                Field("reason", _("原因"), wide=True)],
        action=url_for("tenant_ops.terminate_tenant", code=tenant.code), button=_("确认终止"),
        cancel=url_for("tenants.detail", code=tenant.code), form=form, error=error, status=status)


@blueprint.route("/<code>/terminate", methods=["GET", "POST"])
@roles("operator")
def terminate_tenant(code: str):
    tenant = _tenant(code)
    if request.method == "GET":
        return _terminate_confirm(tenant)
    form = request.form
    kind = form.get("kind", "")
    try:
        if kind not in TERMINATION_KINDS:
            raise InvalidInput(_("请选择终止类型"))
        settlement = terminate(tenant.code, kind=kind, reason=form.get("reason", "").strip(), actor=g.user.username)
    except InvalidInput as exc:
        return _terminate_confirm(tenant, form, error_text(exc), 400)
    flash(_("租户 %(code)s 已终止：退还 %(refunded)s，没收 %(forfeited)s，赠送额度作废 %(promo)s",
            code=tenant.code, refunded=yuan(settlement.refunded_fen), forfeited=yuan(settlement.forfeited_fen),
            promo=yuan(settlement.promo_forfeited_fen)))
    return redirect(url_for("tenants.detail", code=tenant.code))
