"""Campaigns and call scripts; the operator's approval queue with screening hits highlighted (A11)."""
from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup, escape

from models.tenancy import campaigns
from domain.errors import InvalidInput
from models.tenancy.tables import SCRIPT_STATUSES, Campaign, Tenant

from ..auth import roles
from ..i18n import error_text
from ..labels import STATUS
from ..paging import by_columns
from ..scope import chosen_tenant, restrict, tenant_code_for_write, visible_tenants, visible_row

blueprint = Blueprint("campaigns", __name__, url_prefix="/campaigns")

PAGE = 100


def highlight(script: str, hits: dict) -> Markup:
    """The script with every screening hit wrapped in <mark> (matching is case-insensitive)."""
    terms = sorted({t for found in (hits or {}).values() for t in found}, key=len, reverse=True)
    if not terms:
        return escape(script)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(script):
        out.append(escape(script[last:match.start()]))
        out.append(Markup('<mark class="hit">') + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(script[last:]))
    return Markup("").join(out)


def _list_context(form=None, error=""):
    status = request.args.get("status", "")
    query = restrict(Campaign.select(Campaign, Tenant).join(Tenant), Campaign.tenant)
    if status in SCRIPT_STATUSES:
        query = query.where(Campaign.status == status)
    queue = list(restrict(Campaign.select(Campaign, Tenant).join(Tenant), Campaign.tenant)
                 .where(Campaign.status == "review").order_by(Campaign.created_at))
    page = by_columns(query, (Campaign.updated_at, Campaign.id), lambda c: (c.updated_at, c.id),
                      request.args.get("after", ""), PAGE, descending=True)
    return dict(campaigns=page.rows, page=page, queue=queue,
                status=status, statuses=SCRIPT_STATUSES, tenant=chosen_tenant(), tenants=visible_tenants(),
                form=form or {}, error=error)


@blueprint.route("")
def index():
    return render_template("campaigns.html", **_list_context())


@blueprint.route("", methods=["POST"])
@roles("operator", "tenant_admin")
def create():
    settings = current_app.extensions["fsapp_settings"]
    try:
        campaign = campaigns.add_campaign(
            tenant_code_for_write(request.form.get("tenant", "")), request.form.get("code", "").strip(),
            script=request.form.get("script", ""), record=request.form.get("record") == "1",
            name=request.form.get("name", "").strip(), keyword_categories=settings.screening_keywords,
            auto_approve_clean=settings.script_auto_approve_clean, actor=g.user.username)
    except InvalidInput as exc:
        return render_template("campaigns.html", **_list_context(request.form, error_text(exc))), 400
    flash(_("话术已提交：%(code)s（%(status)s）", code=campaign.code, status=STATUS[campaign.status]))
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


def visible_campaign(campaign_id: int) -> Campaign:
    return visible_row(Campaign, campaign_id)


@blueprint.route("/<int:campaign_id>")
def detail(campaign_id: int, error: str = ""):
    campaign = visible_campaign(campaign_id)
    return render_template("campaign_detail.html", campaign=campaign, tenant=campaign.tenant,
                           script=highlight(campaign.script, campaign.screening_hits), error=error)


@blueprint.route("/<int:campaign_id>/review", methods=["POST"])
@roles("operator")
def review(campaign_id: int):
    campaign = visible_campaign(campaign_id)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        abort(400)
    try:
        campaigns.review_campaign(campaign.tenant.code, campaign.code, approve=decision == "approve",
                                     note=request.form.get("note", "").strip(), actor=g.user.username)
    except InvalidInput as exc:
        return detail(campaign_id, error=error_text(exc)), 400
    flash(_("已批准话术 %(code)s", code=campaign.code) if decision == "approve"
          else _("已驳回话术 %(code)s", code=campaign.code))
    return redirect(url_for("campaigns.index", status="review"))
