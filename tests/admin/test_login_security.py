"""Signing in and out as an attacker sees it: logout that holds for a copied cookie."""
from __future__ import annotations

from models import accounts
from models.people import AdminSession

from conftest import Wire, csrf_from


# --- logout ---------------------------------------------------------------------------------


def test_a_cookie_copied_before_logout_gets_the_login_page_after_it(world, served):
    wire = Wire(served)
    status, cookie = wire.login("acme_admin")
    assert status == 302
    status, headers, page = wire.request("GET", "/", cookie=cookie)
    assert status == 200
    cookie = wire.cookie_from(headers, cookie)  # now with the CSRF token the page's logout form uses
    copied = cookie
    _status, other_browser = wire.login("acme_admin")  # the same user signed in elsewhere

    status, headers, _body = wire.request("POST", "/logout", cookie=cookie, form={"csrf_token": csrf_from(page)})
    assert status == 302 and headers["Location"].endswith("/login")

    status, headers, _body = wire.request("GET", "/", cookie=copied)
    assert status == 302 and "/login" in headers["Location"]
    assert wire.request("GET", "/calls/export.csv", cookie=copied)[0] == 302
    assert wire.request("GET", "/", cookie=other_browser)[0] == 200  # only that session ended
    assert AdminSession.select().count() == 1


def test_a_password_reset_ends_every_session_of_the_user(world, served):
    wire = Wire(served)
    cookies = [wire.login("acme_admin")[1] for _ in range(2)]
    assert [wire.request("GET", "/", cookie=c)[0] for c in cookies] == [200, 200]
    accounts.reset_password("acme_admin", "another long password")
    assert [wire.request("GET", "/", cookie=c)[0] for c in cookies] == [302, 302]
