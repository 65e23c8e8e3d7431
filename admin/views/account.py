"""The signed-in user's own account: API tokens, shown once, stored hashed, revocable (D7)."""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.accounts import users
from domain.errors import InvalidInput

from ..i18n import error_text

blueprint = Blueprint("account", __name__, url_prefix="/account")


@blueprint.route("")
def index(new_token: str = "", status: int = 200):
    return render_template("account.html", tokens=users.list_tokens(g.user), new_token=new_token), status


@blueprint.route("/tokens", methods=["POST"])
def create_token():
    token, _row = users.create_token(g.user, request.form.get("name", ""), actor=g.user.username)
    return index(new_token=token)


@blueprint.route("/tokens/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    try:
        users.revoke_token(g.user, token_id, actor=g.user.username)
    except InvalidInput as exc:
        flash(error_text(exc))
        return redirect(url_for("account.index"))
    flash(_("令牌已吊销"))
    return redirect(url_for("account.index"))

