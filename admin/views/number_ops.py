"""One leased number: its state, how inbound calls ring (tenant admin and operator), how many
live calls it may carry (operator: the trunk's capacity is the platform's), and its release
(operator, behind a confirm step): `fsapp number set|release`."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.seats import number_leases
from models.calls.tables import Hold
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.seats.tables import INBOUND_MODES, NumberLease, Seat
from models.seats.validity import lease_state

from ..auth import roles
from ..confirm import confirm_page
from ..form_values import whole_number
from ..i18n import error_text
from ..scope import visible_row

blueprint = Blueprint("number_ops", __name__, url_prefix="/numbers")


def _region() -> str:
    return current_app.extensions["fsapp_settings"].default_region


def _page(lease: NumberLease, status: int = 200, errors=None):
    now = utcnow()
    return render_template(
        "number_detail.html", lease=lease, tenant=lease.tenant, state=lease_state(lease, now), errors=errors or {},
        modes=INBOUND_MODES, live_calls=Hold.select().where((Hold.number == lease) & Hold.released_at.is_null()
                                                            & (Hold.expires_at > now)).count(),
        pinned_seats=list(Seat.select().where(Seat.pinned_number == lease).order_by(Seat.sip_user)),
    ), status


@blueprint.route("/<int:lease_id>")
def detail(lease_id: int):
    return _page(visible_row(NumberLease, lease_id))


@blueprint.route("/<int:lease_id>/settings", methods=["POST"])
@roles("operator", "tenant_admin")
def update(lease_id: int):
    lease = visible_row(NumberLease, lease_id)
    form = request.form
    max_calls_text = form.get("max_calls", "").strip()
    if max_calls_text and g.user.role != "operator":
        abort(403)  # the live-call limit is the platform's (A10)
    try:
        max_calls = whole_number(max_calls_text, _("并发数")) if max_calls_text else None
        number_leases.set_number(
            lease.tenant.code, lease.number, inbound_mode=form.get("inbound_mode") or None,
            max_calls=None if max_calls == lease.max_calls else max_calls, region=_region(), actor=g.user.username)
    except InvalidInput as exc:
        return _page(lease, 400, {"settings": error_text(exc)})
    flash(_("已保存号码 %(number)s 的设置", number=lease.number))
    return redirect(url_for("number_ops.detail", lease_id=lease.id))


@blueprint.route("/<int:lease_id>/release", methods=["GET", "POST"])
@roles("operator")
def release(lease_id: int):
    lease = visible_row(NumberLease, lease_id)
    if request.method == "GET":
        return confirm_page(
            title=_("释放号码 %(number)s", number=lease.number),
            warning=_("释放后该号码立即不能再作为主叫号码，不再续租，固定使用它的坐席改为按被叫归属地选号。已付月租不退；进行中的通话照常进行到结束。"),
            facts=[(_("租户"), lease.tenant.code), (_("号码"), lease.number)],
            action=url_for("number_ops.release", lease_id=lease.id), button=_("确认释放"),
            cancel=url_for("number_ops.detail", lease_id=lease.id))
    try:
        number_leases.release_number(lease.tenant.code, lease.number, region=_region(), actor=g.user.username)
    except InvalidInput as exc:
        return _page(lease, 400, {"release": error_text(exc)})
    flash(_("已释放号码 %(number)s", number=lease.number))
    return redirect(url_for("number_ops.detail", lease_id=lease.id))
