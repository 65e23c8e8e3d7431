"""The audit log (D3, D6): newest first, keyset paging by id; tenant admins see their tenant's."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from models.people import AuditLog
from models.tenancy import Tenant

from ..scope import chosen_tenant, restrict, visible_tenants

blueprint = Blueprint("audit_log", __name__, url_prefix="/audit")

PAGE = 100


@blueprint.route("")
def index():
    query = restrict(AuditLog.select(), AuditLog.tenant)
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if actor:
        query = query.where(AuditLog.actor == actor)
    before = request.args.get("before", "")
    if before.isdigit():
        query = query.where(AuditLog.id < int(before))
    rows = list(query.order_by(AuditLog.id.desc()).limit(PAGE + 1))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    return render_template("audit.html", rows=rows, codes=codes, action=action, actor=actor,
                           next_before=rows[-1].id if more else None, tenant=chosen_tenant(),
                           tenants=visible_tenants())
