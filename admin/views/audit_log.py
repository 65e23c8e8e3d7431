"""The audit log (D3, D6): newest first, keyset paging by id; tenant admins see their tenant's.

Phone numbers in an entry's actor, target and details are masked like on every other page: full only
for a PII user who asked to reveal them (``?reveal=1``), and that reveal is itself audited."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, g, render_template, request

from models.complaints.audit import audit
from models.base import map_json_strings
from domain.numbers import mask_numbers_in
from models.complaints.tables import AuditLog
from models.tenancy.tables import Tenant

from domain.clock import local_day_bounds

from ..form_values import optional_local_date
from ..paging import by_id
from ..scope import chosen_tenant, own_tenant_id, restrict, visible_tenants

blueprint = Blueprint("audit_log", __name__, url_prefix="/audit")

PAGE = 100


@dataclass(frozen=True)
class ShownEntry:
    """An audit row as this user may see it."""

    id: int
    at: datetime
    actor: str
    action: str
    tenant_id: int | None
    target: str
    detail: dict


def _shown(row: AuditLog, reveal: bool) -> ShownEntry:
    actor, target, detail = row.actor, row.target, row.detail or {}
    if not reveal:
        # the actor too: a username typed at a failed login may be someone's phone number
        actor, target = mask_numbers_in(actor), mask_numbers_in(target)
        detail = map_json_strings(detail, mask_numbers_in)
    return ShownEntry(row.id, row.at, actor, row.action, row.tenant_id, target, detail)


@blueprint.route("")
def index():
    query = restrict(AuditLog.select(), AuditLog.tenant)
    action = request.args.get("action", "").strip()
    actor = request.args.get("actor", "").strip()
    if action:
        query = query.where(AuditLog.action.startswith(action))
    if actor:
        query = query.where(AuditLog.actor == actor)
    date_from, date_to = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    bad_dates = [text for text in (date_from, date_to) if text and optional_local_date(text) is None]
    if optional_local_date(date_from):
        query = query.where(AuditLog.at >= local_day_bounds(optional_local_date(date_from))[0])
    if optional_local_date(date_to):
        query = query.where(AuditLog.at < local_day_bounds(optional_local_date(date_to))[1])
    page = by_id(query, AuditLog.id, request.args.get("before", ""), PAGE)
    rows = page.rows
    reveal = request.args.get("reveal") == "1" and g.user.pii
    if reveal:
        audit(g.user.username, "pii.view", tenant=own_tenant_id(), target="audit", rows=len(rows))
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    return render_template("audit.html", rows=[_shown(row, reveal) for row in rows], codes=codes, action=action,
                           actor=actor, reveal=reveal, page=page, date_from=date_from, date_to=date_to,
                           bad_dates=bad_dates,
                           tenant=chosen_tenant(), tenants=visible_tenants())
