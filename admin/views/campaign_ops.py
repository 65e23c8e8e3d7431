"""A campaign's script replaced (screened again, back to review: A11) and its recording switch
(B2): `fsapp campaign update|record`. Operators for any tenant, a tenant admin for their own."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from models.tenancy import campaigns
from domain.errors import InvalidInput
from models.tenancy.tables import Campaign

from ..auth import roles
from ..i18n import error_text
from ..labels import STATUS
from ..scope import visible_row
from .campaigns import detail

blueprint = Blueprint("campaign_ops", __name__, url_prefix="/campaigns")


@blueprint.route("/<int:campaign_id>/script", methods=["POST"])
@roles("operator", "tenant_admin")
def update_script(campaign_id: int):
    campaign = visible_row(Campaign, campaign_id)
    settings = current_app.extensions["fsapp_settings"]
    try:
        updated = campaigns.update_campaign_script(
            campaign.tenant.code, campaign.code, script=request.form.get("script", ""),
            keyword_categories=settings.screening_keywords, auto_approve_clean=settings.script_auto_approve_clean,
            actor=g.user.username)
    except InvalidInput as exc:
        return detail(campaign_id, error=error_text(exc)), 400
    flash(_("话术 %(code)s 已更新并重新送审（%(status)s）", code=updated.code, status=STATUS[updated.status]))
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@blueprint.route("/<int:campaign_id>/record", methods=["POST"])
@roles("operator", "tenant_admin")
def set_record(campaign_id: int):
    campaign = visible_row(Campaign, campaign_id)
    record = request.form.get("record") == "1"
    try:
        campaigns.set_campaign_recording(campaign.tenant.code, campaign.code, record, actor=g.user.username)
    except InvalidInput as exc:
        return detail(campaign_id, error=error_text(exc)), 400
    flash(_("话术 %(code)s 的通话录音已开启（须被叫按 1 同意）", code=campaign.code) if record
          else _("话术 %(code)s 的通话录音已关闭", code=campaign.code))
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
