"""Login, logout, the language switch, and who may see what.

Every request except the login page and static files needs a signed-in, active user (or an API
token, for GET requests). A sign-in is a server-side session (``models.accounts.sessions``): the
cookie only carries its id, and logging out deletes it. Roles (RULEBOOK D3, D6):
- operator: all tenants, may change anything;
- tenant_admin: only their own tenant;
- auditor: all tenants, read-only.
The ``pii`` flag lets a user reveal full phone numbers (each reveal is audited).
"""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from models.accounts import sessions
from models.accounts import users
from domain.clock import utcnow
from models.accounts.tables import AdminUser

from .i18n import LOCALES

blueprint = Blueprint("auth", __name__)

PUBLIC_ENDPOINTS = {"auth.login", "auth.set_language", "static"}
# POSTs an auditor may make: they concern the auditor's own login, not tenant data.
AUDITOR_POST_ENDPOINTS = {"auth.logout", "account.create_token", "account.revoke_token"}


def current_user() -> AdminUser:
    return g.user


def install(app) -> None:
    users.prepare_logins()

    @app.before_request
    def _load_user():
        g.user = None
        if request.endpoint in PUBLIC_ENDPOINTS:
            g.user = _session_user()
            return None
        user = _token_user() or _session_user()
        if user is None:
            if request.method == "GET":
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        g.user = user
        if request.method == "POST" and user.role == "auditor" and request.endpoint not in AUDITOR_POST_ENDPOINTS:
            abort(403)
        return None

    @app.context_processor
    def _inject():
        return {"user": g.get("user"), "locales": LOCALES}


def _session_user() -> AdminUser | None:
    session_id = session.get("sid")
    if not session_id:
        return None
    user = sessions.session_user(session_id, utcnow())
    if user is None:  # signed out (maybe from another copy of this cookie), expired, reset, disabled
        _start_anonymous_session()
    return user


def _start_anonymous_session() -> None:
    """An empty session that keeps only the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


def _token_user() -> AdminUser | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    if request.method != "GET":
        abort(403)  # tokens read reports; changes go through a signed-in session with CSRF
    user = users.verify_token(header[len("Bearer "):].strip())
    if user is None:
        abort(401)
    return user


def roles(*allowed: str):
    """Only these roles may call the view (403 otherwise)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if g.user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def client_address() -> str:
    """The client's address: the peer, or behind ``admin_trusted_proxies`` reverse proxies the
    address they forwarded (werkzeug's ProxyFix, installed by ``create_app``)."""
    return request.remote_addr or "unknown"


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("dashboard.index")
    parts = urlparse(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.index")
    return target


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    error = ""
    if request.method == "POST":
        address = client_address()
        result = users.authenticate(request.form.get("username", ""), request.form.get("password", ""),
                                       address=address)
        if result.ok:
            sessions.close_session(session.get("sid"))  # signing in again replaces a session
            _start_anonymous_session()  # a fresh session: no fixation
            session.permanent = True
            session["sid"] = sessions.open_session(result.user, address=address, now=utcnow())
            return redirect(_safe_next(request.args.get("next")))
        # One answer for every refusal (unknown user, wrong password, disabled, locked): which
        # one it was is in the audit log, not for whoever is trying.
        error = _("登录失败：用户名或密码错误，或该账号暂时不能登录。连续失败 5 次后需等待 15 分钟。")
    return render_template("login.html", error=error), (200 if not error else 401)


@blueprint.route("/logout", methods=["POST"])
def logout():
    sessions.close_session(session.get("sid"))
    _start_anonymous_session()
    flash(_("已退出登录。"))
    return redirect(url_for("auth.login"))


@blueprint.route("/lang/<code>")
def set_language(code: str):
    if code not in LOCALES:
        abort(404)
    session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))
