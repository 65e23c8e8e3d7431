"""The live view: calls up now with their holds, and every seat's state, kept current by
static/live-view.js reading ``/live.json`` (same login, same tenant scope, numbers masked).

Ending a call: a confirm page, then a POST (CSRF) that sends ``uuid_kill <uuid> <cause>`` over
FreeSWITCH's inbound Event Socket with a short deadline (``fs_app.call_control``), audited.
Operators may end any call; a tenant admin the calls of their own tenant (a supervisor cutting
an abusive or runaway call of their own agents); auditors none.
"""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow

from fs_app.call_control import KILL_CAUSES, end_call as kill_call

from .. import live_state
from ..auth import roles
from ..scope import chosen_tenant, own_tenant_id, visible_tenants
from .seats import _registrations

blueprint = Blueprint("live", __name__)

REFRESH_SECONDS = 3  # static/live-view.js reads /live.json this often


def _may_end(hold: Hold) -> bool:
    if g.user.role == "operator":
        return True
    return g.user.role == "tenant_admin" and hold.tenant_id == g.user.tenant_id


def _view():
    tenant = chosen_tenant()
    now = utcnow()
    return tenant, now, live_state.build(tenant.id if tenant else None, now, _registrations(), can_end=_may_end)


@blueprint.route("/live")
def index():
    tenant, now, view = _view()
    return render_template("live.html", view=view, now=now, tenant=tenant, tenants=visible_tenants(),
                           refresh_seconds=REFRESH_SECONDS)


@blueprint.route("/live.json")
def data():
    _tenant, now, view = _view()
    response = jsonify(view.document(now))
    response.headers["Cache-Control"] = "no-store"
    return response


def _live_hold(uuid: str) -> Hold:
    """The live call with this agent-leg uuid that the user may see (404 otherwise: a uuid of
    another tenant's call reveals nothing)."""
    hold = Hold.get_or_none(Hold.call_uuid == uuid)
    if hold is None or (own_tenant_id() is not None and hold.tenant_id != own_tenant_id()):
        abort(404)
    return hold


@blueprint.route("/live/calls/<uuid>/end", methods=["GET", "POST"])
@roles("operator", "tenant_admin")
def end_call(uuid: str):
    hold = _live_hold(uuid)
    if not _may_end(hold):
        abort(403)
    if request.method == "GET":
        return render_template("confirm_end_call.html", hold=hold, causes=KILL_CAUSES,
                               live=hold.released_at is None and hold.expires_at > utcnow())
    cause = request.form.get("cause", KILL_CAUSES[0])
    if cause not in KILL_CAUSES:
        abort(400)
    record = CallRecord.get_or_none(CallRecord.agent_uuid == hold.call_uuid)
    legs = [hold.call_uuid] + ([record.callee_uuid] if record and record.callee_uuid else [])
    result = kill_call(current_app.extensions["fsapp_settings"], legs, cause, actor=g.user.username,
                       tenant_id=hold.tenant_id)
    if result.outcome == "ended":
        flash(_("已通知 FreeSWITCH 挂断通话 %(uuid)s。", uuid=hold.call_uuid))
    elif result.outcome == "gone":
        flash(_("通话 %(uuid)s 已经结束，FreeSWITCH 上没有这个通道。", uuid=hold.call_uuid))
    elif result.outcome == "unreachable":
        flash(_("无法连接 FreeSWITCH，通话未挂断：%(detail)s", detail=result.detail))
    else:
        flash(_("FreeSWITCH 拒绝挂断：%(detail)s", detail=result.detail))
    return redirect(url_for("live.index"))
