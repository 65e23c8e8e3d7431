"""The admin served the way `fsapp serve` serves it: gevent's WSGIServer on 127.0.0.1, port 0."""
from __future__ import annotations

import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import PASSWORD


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_login_dashboard_and_export_over_real_tcp(world, served):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(served + "/")
    assert redirect.value.code == 302 and "/login" in redirect.value.headers["Location"]

    login_page = opener.open(served + "/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', login_page).group(1)
    form = urllib.parse.urlencode({"username": "acme_admin", "password": PASSWORD, "csrf_token": token}).encode()
    with pytest.raises(urllib.error.HTTPError) as logged_in:
        opener.open(served + "/login", data=form)
    assert logged_in.value.code == 302
    cookie = logged_in.value.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    dashboard = opener.open(served + "/")
    body = dashboard.read().decode()
    assert dashboard.status == 200 and "<svg" in body and 'id="calls-today">2<' in body
    assert dashboard.headers["X-Frame-Options"] == "DENY"
    export = opener.open(served + "/calls/export.csv").read().decode("utf-8-sig")
    assert export.count("\n") == 3 and "globex" not in export
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        opener.open(served + f"/calls/{world.globex_call.id}")
    assert forbidden.value.code == 404
    csrf_less = urllib.parse.urlencode({"number": "13800138000"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(served + "/dnc", data=csrf_less)
    assert refused.value.code == 400


def test_accepted_admin_sockets_have_nagle_off(app):
    """Headers and body leave gevent.pywsgi in two writes: with Nagle on, the body waited for the
    client's delayed ACK (~40 ms per keep-alive response). The accepted socket must have
    TCP_NODELAY set before the first request is read; plain WSGIServer shows the test can fail."""
    import http.client
    import socket

    from gevent.pywsgi import WSGIServer

    from fs_app.http_server import NoDelayWSGIServer

    def nodelay_seen(server_class) -> int:
        accepted = []

        class Recording(server_class):
            def handle(self, sock, address):
                accepted.append(sock)
                super().handle(sock, address)

        def answer(environ, start_response):
            flag = accepted[-1].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(flag).encode()]

        server = Recording(("127.0.0.1", 0), answer, log=None)
        server.start()
        try:
            connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
            connection.request("GET", "/")
            value = int(connection.getresponse().read())
            connection.close()
            return value
        finally:
            server.stop(timeout=2)

    assert nodelay_seen(NoDelayWSGIServer) != 0
    assert nodelay_seen(WSGIServer) == 0


def test_a_server_error_renders_the_error_page_in_the_pages_language(settings, world, browser):
    from admin import create_app

    app = create_app(settings)  # not testing: errors are handled, not propagated
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.route("/boom")
    def boom():
        raise RuntimeError("boom")

    from conftest import Browser

    b = Browser(app)
    assert b.login("op").status_code == 302
    response = b.get("/boom")
    page = response.get_data(as_text=True)
    assert response.status_code == 500 and "服务器出错" in page and "Werkzeug" not in page
    b.get("/lang/en?next=/")
    assert "Server error" in b.get("/boom").get_data(as_text=True)


def test_csrf_refusal_is_said_in_the_pages_language(settings, world):
    from admin import create_app
    from conftest import Browser

    app = create_app(settings)
    b = Browser(app)
    assert b.login("op").status_code == 302
    refused = b.client.post("/dnc", data={"number": "13800138000"})
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "CSRF 校验失败" in page and "The CSRF token" not in page
