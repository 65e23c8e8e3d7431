"""Revoking a callee's consent (`fsapp consent revoke`): the number cannot be called again until
a new consent is recorded (A7). Operators for any tenant, a tenant admin for their own."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from models.lists import list_entries
from domain.errors import InvalidInput

from ..auth import roles
from ..i18n import error_text
from ..scope import tenant_code_for_write
from .lists import _consent_page

blueprint = Blueprint("list_ops", __name__)


@blueprint.route("/consent/revoke", methods=["POST"])
@roles("operator", "tenant_admin")
def consent_revoke():
    form = request.form
    try:
        count = list_entries.revoke_consent_by_code(
            tenant_code_for_write(form.get("tenant", "")), form.get("number", ""),
            region=current_app.extensions["fsapp_settings"].default_region, actor=g.user.username)
    except InvalidInput as exc:
        return _consent_page(400, revoke_form=form, revoke_error=error_text(exc))
    flash(_("已撤销 %(n)s 条同意记录，该号码不能再外呼，直到重新取得同意", n=count))
    return redirect(url_for("lists.consent"))
