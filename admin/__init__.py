"""The web admin: a Flask app over the models (ARCHITECTURE: admin imports models, never call code).

``create_app(settings)`` returns the WSGI app; ``fsapp serve`` runs it under gevent's WSGIServer.
"""
from __future__ import annotations

from flask import Flask, render_template
from flask_babel import gettext as _
from flask_babel import Babel
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

import models
import models.db
from models.accounts.sessions import SESSION_LIFETIME

from . import auth, display, formatting, i18n, labels
from .connections import ConnectionPerRequest
from .secret import load_secret_key
from .views import BLUEPRINTS

csrf = CSRFProtect()


def create_app(settings, *, testing: bool = False) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=load_secret_key(settings),
        TESTING=testing,
        SESSION_COOKIE_NAME="fsapp_admin",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # Secure cookies need HTTPS in front of the admin; the lead's setting, when present, wins.
        SESSION_COOKIE_SECURE=bool(getattr(settings, "admin_secure_cookies", False)),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,  # the cookie; the server-side session ends with it
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,  # CSV imports
        BABEL_DEFAULT_LOCALE="zh",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        BABEL_TRANSLATION_DIRECTORIES=str(i18n.compile_catalogues(settings.data_dir)),
    )
    app.extensions["fsapp_settings"] = settings
    trusted_proxies = settings.admin_trusted_proxies
    if trusted_proxies:
        # the client address (login throttling, audit) as the proxies in front saw it. Only that:
        # believing X-Forwarded-Proto would make Flask-WTF demand a Referer matching a Host header
        # that a default nginx rewrites, refusing every form behind TLS
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies, x_proto=0, x_host=0, x_port=0, x_prefix=0)
    models.open_database(**settings.database_options())
    # the request's database connection wraps everything else, the login lookup and streamed bodies too
    app.wsgi_app = ConnectionPerRequest(app.wsgi_app)

    csrf.init_app(app)
    Babel(app, locale_selector=i18n.selected_locale)
    formatting.register(app)
    labels.register(app)
    display.register(app)
    app.register_blueprint(auth.blueprint)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    auth.install(app)

    @app.errorhandler(CSRFError)
    def _csrf_error(error):
        # Flask-WTF's own description is English ("The CSRF token is missing."): say it in the page's language
        return render_template("error.html", code=400, message=_(
            "表单已过期或来源无法验证（CSRF 校验失败）。请返回上一页刷新后重新提交。")), 400

    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, lambda error, code=code: (
            render_template("error.html", code=code, message=""), code))

    @app.errorhandler(500)
    def _server_error(error):
        # never Werkzeug's English page; the exception itself goes to the log (Flask logs it first)
        try:
            return render_template("error.html", code=500, message=""), 500
        except Exception:  # the error page itself failed (the database is down): a bare page in both languages
            app.logger.exception("the error page could not be rendered")
            return "500 · 服务器出错 / server error", 500, {"Content-Type": "text/plain; charset=utf-8"}

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy",
                                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                    "script-src 'self'; media-src 'self'; frame-ancestors 'none'")
        if "text/html" in response.content_type:
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
