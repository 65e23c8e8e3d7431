"""Admin logins (`fsapp user`): add, disable (behind a confirm step), enable, reset a password,
unlock after wrong passwords, grant or revoke the PII permission; and the idle rule of D4 in
sight: each login's last sign-in, the days left before the idle disable, who it disabled.

Who may do what: ``admin.user_rights``. A generated password is shown once, on the response
itself (never flashed: a flashed message travels in the session cookie)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from models.accounts import login_throttle
from models.accounts import users
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.accounts.tables import AdminUser
from models.tenancy.tables import Tenant

from .. import user_rights
from ..auth import roles
from ..confirm import confirm_page
from ..i18n import error_text
from ..scope import visible_tenants

blueprint = Blueprint("users", __name__, url_prefix="/users")


def _settings():
    return current_app.extensions["fsapp_settings"]


def _standing(user: AdminUser, now) -> dict:
    """Last sign-in, when the idle rule (D4) disables it, and its locks, for the pages."""
    idle_at = users.idle_disable_at(user, _settings().login_idle_disable_days)
    days_left = -(-(idle_at - now).total_seconds() // 86400)  # a day begun counts: "1 day" until it is over
    return dict(user=user, idle_at=idle_at, idle_days=max(0, int(days_left)),
                locked=login_throttle.locked_addresses(user.username, now),
                manage=user_rights.may_manage(g.user, user))


def _list_page(status: int = 200, form=None, error: str = "", issued=None):
    now = utcnow()
    standings = [_standing(u, now) for u in user_rights.visible_users(g.user).limit(2000)]
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    return render_template("users.html", users=standings, codes=codes, now=now, form=form or {}, error=error,
                           issued=issued, roles=user_rights.creatable_roles(g.user), tenants=visible_tenants(),
                           may_grant_pii=user_rights.may_grant_pii(g.user),
                           idle_days=_settings().login_idle_disable_days), status


@blueprint.route("")
def index():
    return _list_page()


@blueprint.route("", methods=["POST"])
@roles("operator", "tenant_admin")
def create():
    form = request.form
    role = form.get("role", "")
    if role not in user_rights.creatable_roles(g.user):
        abort(403)
    pii = form.get("pii") == "1"
    if pii and not user_rights.may_grant_pii(g.user):
        abort(403)
    if g.user.role == "tenant_admin":
        tenant_code = Tenant.get_by_id(g.user.tenant_id).code
    else:
        tenant_code = form.get("tenant", "").strip() if role == "tenant_admin" else None
    password = users.generate_password()
    try:
        user = users.add_user(form.get("username", ""), role=role, password=password, tenant_code=tenant_code,
                                 pii=pii, actor=g.user.username)
    except InvalidInput as exc:
        return _list_page(400, form, error_text(exc))
    return _list_page(issued=(user.username, password))


def _managed(user_id: int) -> AdminUser:
    """A login the user may see (404 otherwise) and manage (403 otherwise)."""
    target = AdminUser.get_or_none(AdminUser.id == user_id) if 0 < user_id < 2**31 else None
    if target is None or not user_rights.may_see(g.user, target):
        abort(404)
    if not user_rights.may_manage(g.user, target):
        abort(403)
    return target


def _detail_page(target: AdminUser, status: int = 200, error: str = "", issued: str = ""):
    return render_template("user_detail.html", standing=_standing(target, utcnow()), error=error, issued=issued,
                           codes=dict(Tenant.select(Tenant.id, Tenant.code).tuples()),
                           may_grant_pii=user_rights.may_grant_pii(g.user)), status


@blueprint.route("/<int:user_id>")
def detail(user_id: int):
    target = AdminUser.get_or_none(AdminUser.id == user_id) if 0 < user_id < 2**31 else None
    if target is None or not user_rights.may_see(g.user, target):
        abort(404)
    return _detail_page(target)


def _act(user_id: int, action, done: str):
    target = _managed(user_id)
    try:
        action(target)
    except InvalidInput as exc:
        return _detail_page(target, 400, error_text(exc))
    flash(done % {"name": target.username})
    return redirect(url_for("users.detail", user_id=target.id))


@blueprint.route("/<int:user_id>/disable", methods=["GET", "POST"])
@roles("operator", "tenant_admin")
def disable(user_id: int):
    target = _managed(user_id)
    if request.method == "GET":
        return confirm_page(
            title=_("停用登录 %(name)s", name=target.username),
            warning=_("停用后该账号立即退出所有会话，不能再登录，API 令牌也失效；可以随时重新启用。"),
            facts=[(_("用户名"), target.username)],
            action=url_for("users.disable", user_id=target.id), button=_("确认停用"),
            cancel=url_for("users.detail", user_id=target.id))
    return _act(user_id, lambda t: users.disable_user(t.username, actor=g.user.username), _("已停用 %(name)s"))


@blueprint.route("/<int:user_id>/enable", methods=["POST"])
@roles("operator", "tenant_admin")
def enable(user_id: int):
    return _act(user_id, lambda t: users.enable_user(t.username, actor=g.user.username), _("已启用 %(name)s"))


@blueprint.route("/<int:user_id>/unlock", methods=["POST"])
@roles("operator", "tenant_admin")
def unlock(user_id: int):
    return _act(user_id, lambda t: users.unlock_user(t.username, actor=g.user.username),
                _("已解除 %(name)s 的登录锁定"))


@blueprint.route("/<int:user_id>/pii", methods=["POST"])
@roles("operator", "tenant_admin")
def pii(user_id: int):
    grant = request.form.get("pii") == "1"
    if grant and not user_rights.may_grant_pii(g.user):
        abort(403)
    return _act(user_id, lambda t: users.set_pii(t.username, grant, actor=g.user.username),
                _("已授予 %(name)s 查看完整号码的权限") if grant else _("已收回 %(name)s 查看完整号码的权限"))


@blueprint.route("/<int:user_id>/password", methods=["POST"])
@roles("operator", "tenant_admin")
def reset_password(user_id: int):
    target = _managed(user_id)
    try:
        password = users.reset_password(target.username, actor=g.user.username)
    except InvalidInput as exc:
        return _detail_page(target, 400, error_text(exc))
    return _detail_page(AdminUser.get_by_id(target.id), issued=password)
