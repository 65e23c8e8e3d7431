"""One seat: its state in words, its registration, and the day-to-day acts of `fsapp seat`:
pinned number and default campaign (`seat set`), a new SIP password (`seat password`, shown once
on the response itself), disable (behind a confirm step) and enable.

Operators act on any seat, a tenant admin on their own tenant's seats (an agent who leaves, a
phone that was lost: the tenant's everyday work; adding seats costs rent and stays with the
operator). Disabling a seat or rotating its password also tells FreeSWITCH at once, best effort,
as the CLI does (``fs_app.seat_revocation``)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.seats import seats as seat_models
from models.calls.tables import Hold
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.tenancy.tables import Campaign
from models.seats.tables import NumberLease, Seat
from models.seats.validity import account_banned_tenants, seat_state

from fs_app.seat_revocation import revoke

from .. import state_labels
from ..auth import roles
from ..confirm import confirm_page
from ..i18n import error_text
from ..scope import visible_row
from .seats import _registrations

blueprint = Blueprint("seat_ops", __name__, url_prefix="/seats")
state_labels.register(blueprint)  # once, for every template (seats, numbers, calls, live)


def _settings():
    return current_app.extensions["fsapp_settings"]


def _page(seat: Seat, status: int = 200, errors=None, issued: str = ""):
    now = utcnow()
    tenant = seat.tenant
    registrations = _registrations()
    return render_template(
        "seat_detail.html", seat=seat, tenant=tenant, now=now, issued=issued, errors=errors or {},
        state=seat_state(seat, tenant, now, account_banned=tenant.id in account_banned_tenants(now, [tenant.id])),
        registrations=registrations, registered=registrations.of(seat.address),
        live_calls=Hold.select().where((Hold.seat == seat) & Hold.live_at(now))
        .count(),
        leases=list(NumberLease.select().where((NumberLease.tenant == tenant) & NumberLease.released_at.is_null())
                    .order_by(NumberLease.number)),
        campaigns=list(Campaign.select().where(Campaign.tenant == tenant).order_by(Campaign.code)),
    ), status


@blueprint.route("/<int:seat_id>")
def detail(seat_id: int):
    return _page(visible_row(Seat, seat_id))


def _tell_freeswitch(seat: Seat) -> None:
    done, message = revoke(_settings(), seat.sip_user, seat.sip_domain)
    flash(_("已通知 FreeSWITCH：旧凭据立即失效。") if done else error_text(message))


@blueprint.route("/<int:seat_id>/routing", methods=["POST"])
@roles("operator", "tenant_admin")
def routing(seat_id: int):
    seat = visible_row(Seat, seat_id)
    try:
        seat_models.set_routing(seat.tenant.code, seat.address, pin_number=request.form.get("pin_number", ""),
                                campaign=request.form.get("campaign", ""), region=_settings().default_region,
                                actor=g.user.username)
    except InvalidInput as exc:
        return _page(seat, 400, {"routing": error_text(exc)})
    flash(_("已保存坐席 %(seat)s 的固定号码和默认话术", seat=seat.address))
    return redirect(url_for("seat_ops.detail", seat_id=seat.id))


@blueprint.route("/<int:seat_id>/password", methods=["POST"])
@roles("operator", "tenant_admin")
def password(seat_id: int):
    """The new password is on this response only (no redirect: a flashed message would carry it
    in the session cookie) and is never stored (D7)."""
    seat = visible_row(Seat, seat_id)
    try:
        rotated = seat_models.rotate_password(seat.tenant.code, seat.address, actor=g.user.username)
    except InvalidInput as exc:
        return _page(seat, 400, {"password": error_text(exc)})
    _tell_freeswitch(rotated)
    return _page(Seat.get_by_id(seat.id), issued=rotated.issued_password)


@blueprint.route("/<int:seat_id>/disable", methods=["GET", "POST"])
@roles("operator", "tenant_admin")
def disable(seat_id: int):
    seat = visible_row(Seat, seat_id)
    if request.method == "GET":
        return confirm_page(
            title=_("停用坐席 %(seat)s", seat=seat.address),
            warning=_("停用后该坐席立即无法注册和呼叫（FreeSWITCH 拒绝它）；进行中的通话不受影响。已付月租不退，可随时重新启用。"),
            facts=[(_("租户"), seat.tenant.code), (_("坐席"), seat.address)],
            action=url_for("seat_ops.disable", seat_id=seat.id), button=_("确认停用"),
            cancel=url_for("seat_ops.detail", seat_id=seat.id))
    try:
        disabled = seat_models.set_active(seat.tenant.code, seat.address, False, actor=g.user.username)
    except InvalidInput as exc:
        return _page(seat, 400, {"active": error_text(exc)})
    flash(_("已停用坐席 %(seat)s", seat=seat.address))
    _tell_freeswitch(disabled)
    return redirect(url_for("seat_ops.detail", seat_id=seat.id))


@blueprint.route("/<int:seat_id>/enable", methods=["POST"])
@roles("operator", "tenant_admin")
def enable(seat_id: int):
    seat = visible_row(Seat, seat_id)
    try:
        seat_models.set_active(seat.tenant.code, seat.address, True, actor=g.user.username)
    except InvalidInput as exc:
        return _page(seat, 400, {"active": error_text(exc)})
    flash(_("已启用坐席 %(seat)s", seat=seat.address))
    return redirect(url_for("seat_ops.detail", seat_id=seat.id))
