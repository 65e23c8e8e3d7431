"""Consent records and do-not-call lists: browse, add one, import CSV with a report of every bad row."""
from __future__ import annotations

import io

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.lists import list_entries
from models.complaints.audit import audit
from domain.errors import InvalidInput
from models.lists.tables import Consent, DoNotCall
from models.tenancy.tables import Tenant

from .. import number_search
from ..auth import roles
from ..i18n import error_text
from ..form_values import local_datetime
from ..paging import by_id
from ..scope import chosen_tenant, own_tenant_id, restrict, tenant_code_for_write, visible_tenants

blueprint = Blueprint("lists", __name__)

PAGE = 100


def _region() -> str:
    return current_app.extensions["fsapp_settings"].default_region


def _reveal() -> bool:
    return request.args.get("reveal") == "1" and g.user.pii


def _search(query, field):
    """The ?q= number search: whole number, prefix (138*) or suffix (*8000) within what D3 lets
    this user see (admin.number_search)."""
    search = number_search.parse(request.args.get("q", ""), pii=g.user.pii, region=_region())
    g.number_search_problem = search.kind in ("invalid", "too_long") and search.kind
    return search.apply(query, field)


def _uploaded_stream():
    """The upload as a text stream, read row by row by the import (never all at once: werkzeug
    spools a large upload to a temporary file); bytes that are not UTF-8 are found as it is read."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InvalidInput(_("请选择要导入的 CSV 文件"))
    return io.TextIOWrapper(upload.stream, encoding="utf-8-sig", newline="")


# --- consent --------------------------------------------------------------------------------


def _consent_page(status=200, **extra):
    query = _search(restrict(Consent.select(Consent, Tenant).join(Tenant), Consent.tenant), Consent.number)
    page = by_id(query, Consent.id, request.args.get("before", ""), PAGE)
    rows = page.rows
    if _reveal():
        audit(g.user.username, "pii.view", tenant=own_tenant_id(), target="consent", rows=len(rows))
    context = dict(rows=rows, page=page, reveal=_reveal(), tenant=chosen_tenant(), tenants=visible_tenants(), form={},
                   error="", report=None)
    context.update(extra)
    return render_template("consent.html", **context), status


@blueprint.route("/consent")
def consent():
    return _consent_page()


@blueprint.route("/consent", methods=["POST"])
@roles("operator", "tenant_admin")
def consent_add():
    form = request.form
    try:
        expires = local_datetime(form["expires"], _("到期时间")) if form.get("expires", "").strip() else None
        consent = list_entries.add_consent(tenant_code_for_write(form.get("tenant", "")), form.get("number", ""),
                                      source=form.get("source", ""), evidence=form.get("evidence", ""),
                                      expires_at=expires, region=_region(), actor=g.user.username)
    except InvalidInput as exc:
        return _consent_page(400, form=form, error=error_text(exc))
    flash(_("已记录同意：%(number)s", number=consent.number))
    return redirect(url_for("lists.consent"))


@blueprint.route("/consent/import", methods=["POST"])
@roles("operator", "tenant_admin")
def consent_import():
    try:
        report = list_entries.import_consent(tenant_code_for_write(request.form.get("tenant", "")), _uploaded_stream(),
                                        strict=request.form.get("strict") == "1", region=_region(),
                                        actor=g.user.username)
    except InvalidInput as exc:
        return _consent_page(400, import_error=error_text(exc))
    return _consent_page(200 if report.ok else 422, report=report)


# --- do-not-call ----------------------------------------------------------------------------


def _dnc_page(status=200, **extra):
    query = DoNotCall.select()
    own = own_tenant_id()
    scope = request.args.get("scope", "")
    if own is not None:
        query = query.where(DoNotCall.tenant == own)  # the platform list is not a tenant's data
    elif scope == "platform":
        query = query.where(DoNotCall.scope == "platform")
    else:
        query = restrict(query, DoNotCall.tenant)
    page = by_id(_search(query, DoNotCall.number), DoNotCall.id, request.args.get("before", ""), PAGE)
    rows = page.rows
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    if _reveal():
        audit(g.user.username, "pii.view", tenant=own, target="dnc", rows=len(rows))
    context = dict(rows=rows, page=page, codes=codes, reveal=_reveal(), tenant=chosen_tenant(), tenants=visible_tenants(),
                   scope=scope, form={}, error="", report=None)
    context.update(extra)
    return render_template("dnc.html", **context), status


@blueprint.route("/dnc")
def dnc():
    return _dnc_page()


def _dnc_tenant_code(form) -> str | None:
    """None means the platform list, which only operators may write."""
    code = tenant_code_for_write(form.get("tenant", ""))
    if not code and g.user.role != "operator":
        raise InvalidInput(_("请选择租户"))
    return code or None


@blueprint.route("/dnc", methods=["POST"])
@roles("operator", "tenant_admin")
def dnc_add():
    form = request.form
    try:
        entry = list_entries.add_dnc(form.get("number", ""), tenant_code=_dnc_tenant_code(form),
                                reason=form.get("reason", ""), source="admin", region=_region(),
                                actor=g.user.username)
    except InvalidInput as exc:
        return _dnc_page(400, form=form, error=error_text(exc))
    flash(_("已加入禁呼名单：%(number)s", number=entry.number))
    return redirect(url_for("lists.dnc"))


@blueprint.route("/dnc/import", methods=["POST"])
@roles("operator", "tenant_admin")
def dnc_import():
    try:
        report = list_entries.import_dnc(_uploaded_stream(), tenant_code=_dnc_tenant_code(request.form),
                                    strict=request.form.get("strict") == "1", region=_region(),
                                    actor=g.user.username)
    except InvalidInput as exc:
        return _dnc_page(400, import_error=error_text(exc))
    return _dnc_page(200 if report.ok else 422, report=report)
