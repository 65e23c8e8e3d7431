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
