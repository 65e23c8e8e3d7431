"""Complaints: the 2-hour answer deadline counting down, overdue ones flagged (D5)."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from domain.clock import utcnow
from domain.errors import InvalidInput
from models.complaints.tables import COMPLAINT_CHANNELS, Complaint
from models.tenancy.tables import Tenant

from ..auth import roles
from ..complaint_filing import answer_complaint, file_complaint
from ..i18n import error_text
from ..form_values import local_datetime
from ..paging import by_columns
from ..scope import chosen_tenant, restrict, tenant_code_for_write, visible_tenants, visible_row

blueprint = Blueprint("complaints", __name__, url_prefix="/complaints")

PAGE = 100
#: open complaints first, the most urgent (earliest due) first; answered ones after them
ORDER = (Complaint.answered_at.is_null(False), Complaint.due_at, Complaint.id)


def _page(status=200, **extra):
    now = utcnow()
    query = restrict(Complaint.select(Complaint, Tenant).join(Tenant), Complaint.tenant)
    show = request.args.get("show", "open")
    if show == "open":
        query = query.where(Complaint.answered_at.is_null())
    page = by_columns(query, ORDER, lambda c: (c.answered_at is not None, c.due_at, c.id),
                      request.args.get("after", ""), PAGE)
    context = dict(rows=page.rows, page=page, now=now, show=show, channels=COMPLAINT_CHANNELS, tenant=chosen_tenant(),
                   tenants=visible_tenants(), form={}, error="", answer_error={})
    context.update(extra)
    return render_template("complaints.html", **context), status


@blueprint.route("")
def index():
    return _page()


@blueprint.route("", methods=["POST"])
@roles("operator", "tenant_admin")
def create():
    form = request.form
    try:
        received = local_datetime(form["received_at"], _("收到时间")) if form.get("received_at", "").strip() else None
        complaint = file_complaint(tenant_code_for_write(form.get("tenant", "")), form.get("number", ""),
                                   channel=form.get("channel", ""), text=form.get("text", ""),
                                   call_uuid=form.get("call_uuid", ""), received_at=received,
                                   settings=current_app.extensions["fsapp_settings"], actor=g.user.username)
    except InvalidInput as exc:
        return _page(400, form=form, error=error_text(exc))
    flash(_("投诉已登记，号码已加入该租户的禁呼名单（#%(id)s）", id=complaint.id))
    return redirect(url_for("complaints.index"))


@blueprint.route("/<int:complaint_id>/answer", methods=["POST"])
@roles("operator", "tenant_admin")
def answer(complaint_id: int):
    complaint = visible_row(Complaint, complaint_id)
    try:
        answer_complaint(complaint, request.form.get("answer", ""), actor=g.user.username)
    except InvalidInput as exc:
        return _page(400, answer_error={complaint.id: error_text(exc)})
    flash(_("投诉 #%(id)s 已答复", id=complaint.id))
    return redirect(url_for("complaints.index"))
