"""Signing in and out as an attacker sees it: logout that holds for a copied cookie, refusals that
look alike (answer and work), and the client address behind trusted reverse proxies."""
from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from admin import create_app
from models.accounts import login_throttle
from models.accounts import users
from models.accounts.tables import AdminSession
from models.complaints.tables import AuditLog

from conftest import PASSWORD, Browser, Wire, csrf_from, serving


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
    users.reset_password("acme_admin", "another long password")
    assert [wire.request("GET", "/", cookie=c)[0] for c in cookies] == [302, 302]


# --- refusals look alike ----------------------------------------------------------------------


class CountingHasher(PasswordHasher):
    """The tests' quick argon2id, counting the password verifications a login makes."""

    def __init__(self):
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.verifications = 0

        self.hashes = 0

    def verify(self, hash, password):  # noqa: A002 - argon2's own parameter name
        self.verifications += 1
        return super().verify(hash, password)

    def hash(self, password, *, salt=None):
        self.hashes += 1
        return super().hash(password, salt=salt)


@pytest.fixture
def hasher(monkeypatch):
    counting = CountingHasher()
    monkeypatch.setattr(users, "password_hasher", counting)
    return counting


def login_answer(browser, hasher, username, password, address):
    """(status, page without its per-session CSRF token, hash verifications) of one login."""
    before = hasher.verifications
    response = browser(address=address).login(username, password)
    page = re.sub(r'name="csrf_token" value="[^"]+"', "", response.get_data(as_text=True))
    return response.status_code, page, hasher.verifications - before


def lock_pair(username: str, address: str) -> None:
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR):
        users.authenticate(username, "wrong password", address=address)


def test_every_refusal_answers_the_same_and_verifies_one_password_hash(world, browser, hasher):
    users.disable_user("auditor")
    lock_pair("acme_admin", "10.9.0.4")
    lock_pair("ghost", "10.9.0.5")
    cases = {
        "unknown username": ("nobody", PASSWORD, "10.9.0.1"),
        "wrong password": ("op", "not the password", "10.9.0.2"),
        "disabled, right password": ("auditor", PASSWORD, "10.9.0.3"),
        "locked, right password": ("acme_admin", PASSWORD, "10.9.0.4"),
        "locked unknown username": ("ghost", PASSWORD, "10.9.0.5"),
    }
    answers = {case: login_answer(browser, hasher, *args) for case, args in cases.items()}
    assert {case: (status, verified) for case, (status, _page, verified) in answers.items()} == {
        case: (401, 1) for case in cases}
    pages = {page for _status, page, _verified in answers.values()}
    assert len(pages) == 1, "a refusal's page differs by its reason"
    assert "登录失败：用户名或密码错误，或该账号暂时不能登录" in pages.pop()
    # what happened is in the audit log, for the operator
    reasons = {(a.actor, a.action, (a.detail or {}).get("why")) for a in AuditLog.select().where(
        AuditLog.action.startswith("login.") & AuditLog.target.startswith("10.9.0."))}
    assert {("nobody", "login.failed", None), ("op", "login.failed", None), ("auditor", "login.refused", "disabled"),
            ("acme_admin", "login.refused", "user_locked"), ("ghost", "login.refused", "user_locked")} <= reasons
    # a successful login does the same work
    status, _page, verified = login_answer(browser, hasher, "op", PASSWORD, "10.9.0.6")
    assert (status, verified) == (302, 1)


def test_the_first_unknown_username_costs_no_more_than_any_other(world, settings, hasher):
    users._dummy_hash.cache_clear()  # as in a process that just started
    app = create_app(settings, testing=True)
    ready = (hasher.hashes, hasher.verifications)
    assert ready == (1, 0)  # the dummy hash is made when the admin starts...
    response = Browser(app, "10.9.2.1").login("nobody", PASSWORD)
    assert response.status_code == 401
    assert (hasher.hashes, hasher.verifications) == (1, 1)  # ...not at the first unknown username


def test_a_throttled_address_answers_the_same_for_every_username_without_hashing(world, browser, hasher):
    for i in range(login_throttle.MAX_ATTEMPTS_PER_ADDRESS):
        users.authenticate(f"spray{i}", "wrong password", address="203.0.113.5")
    answers = [login_answer(browser, hasher, username, PASSWORD, "203.0.113.5") for username in ("op", "nobody")]
    assert [(status, verified) for status, _page, verified in answers] == [(401, 0), (401, 0)]
    assert answers[0][1] == answers[1][1]


def test_the_english_page_says_the_same_for_every_refusal(world, browser):
    b = browser(address="10.9.1.1")
    b.get("/lang/en")
    lock_pair("acme_admin", "10.9.1.1")
    pages = []
    for username, password in (("nobody", PASSWORD), ("acme_admin", PASSWORD)):
        response = b.login(username, password)
        pages.append(re.search(r'<div class="error"[^>]*>([^<]+)<', response.get_data(as_text=True)).group(1))
    assert pages[0] == pages[1] and pages[0].startswith("Sign-in failed: wrong username or password")


# --- behind a reverse proxy -----------------------------------------------------------------


def failed_targets() -> list[str]:
    return [a.target for a in AuditLog.select().where(AuditLog.action == "login.failed").order_by(AuditLog.id)]


def test_behind_one_trusted_proxy_the_forwarded_client_address_counts(world, settings):
    app = create_app(settings.replace(admin_trusted_proxies="1"), testing=True)
    with serving(app) as url:
        wire = Wire(url)
        guesser = {"X-Forwarded-For": "198.51.100.7"}
        for _ in range(login_throttle.MAX_FAILURES_PER_PAIR):
            assert wire.login("op", "wrong password", headers=guesser)[0] == 401
        assert wire.login("op", PASSWORD, headers=guesser)[0] == 401  # locked for that client only
        assert wire.login("op", PASSWORD, headers={"X-Forwarded-For": "198.51.100.8"})[0] == 302
        # a TLS proxy that rewrites Host: forms still pass CSRF (the scheme is not taken from the proxy)
        assert wire.login("op", PASSWORD, headers={"X-Forwarded-For": "198.51.100.8", "X-Forwarded-Proto": "https",
                                                   "Host": "admin.example.com"})[0] == 302
        # the proxy appends the address it saw: what the client wrote before it is not believed
        assert wire.login("op", PASSWORD, headers={"X-Forwarded-For": "198.51.100.8, 198.51.100.7"})[0] == 401
    assert failed_targets() == ["198.51.100.7"] * login_throttle.MAX_FAILURES_PER_PAIR


def test_without_trusted_proxies_a_forwarded_header_is_ignored(world, served):
    wire = Wire(served)
    assert wire.login("op", "wrong password", headers={"X-Forwarded-For": "198.51.100.7"})[0] == 401
    assert failed_targets() == ["127.0.0.1"]
