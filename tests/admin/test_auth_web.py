"""Login, sessions, CSRF, throttling, roles and the language switch over the HTTP stack."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from admin import create_app
from models.accounts import users
from models.complaints.tables import AuditLog

from conftest import PASSWORD, Browser, csrf_from


def test_pages_need_a_login(world, browser):
    anonymous = browser()
    response = anonymous.get("/calls?result=blocked")
    assert response.status_code == 302 and "/login?next=/calls?result%3Dblocked" in response.headers["Location"]
    assert anonymous.client.post("/dnc", data={"number": "13800138000"}).status_code in (400, 401)


def test_login_then_logout(world, browser):
    b = browser()
    page = b.get("/login")
    assert page.status_code == 200 and "呼叫中心管理后台" in page.get_data(as_text=True)
    response = b.client.post("/login?next=/calls", data={
        "username": "op", "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.status_code == 302 and response.headers["Location"] == "/calls"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert b.get("/").status_code == 200
    assert b.post("/logout").status_code == 302
    assert b.get("/").status_code == 302


def test_login_does_not_redirect_off_site(world, browser):
    b = browser()
    page = b.get("/login")
    response = b.client.post("/login?next=//evil.example/x", data={
        "username": "op", "password": PASSWORD, "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert response.headers["Location"] == "/"


def test_secure_cookie_is_configurable(world, settings):
    class WithSecure:
        def __getattr__(self, key):
            return True if key == "admin_secure_cookies" else getattr(settings, key)

    app = create_app(WithSecure(), testing=True)
    b = Browser(app)
    assert "Secure" in b.login("op").headers["Set-Cookie"]


def test_wrong_password_is_refused_and_audited(world, browser):
    response = browser().login("op", "not the password")
    assert response.status_code == 401 and "用户名或密码错误" in response.get_data(as_text=True)
    assert AuditLog.select().where(AuditLog.action == "login.failed").count() == 1


def test_login_throttling_per_username_and_address_over_http(world, browser):
    guesser = browser(address="10.1.0.1")
    for _ in range(5):
        assert guesser.login("op", "wrong").status_code == 401
    response = guesser.login("op", PASSWORD)
    assert response.status_code == 401 and "15 分钟" in response.get_data(as_text=True)
    assert browser(address="10.2.0.1").login("op", PASSWORD).status_code == 302  # the real user, elsewhere


def test_login_throttling_per_address_over_http(world, browser):
    attacker = browser(address="203.0.113.9")
    for i in range(20):
        attacker.login(f"user{i}", "wrong")
    assert attacker.login("op", PASSWORD).status_code == 401
    assert browser(address="203.0.113.10").login("op", PASSWORD).status_code == 302


def test_csrf_token_is_required_on_every_form(world, browser):
    b = browser("op")
    for url, data in [("/dnc", {"number": "13800138000", "tenant": "acme"}),
                      ("/tenants", {"code": "new"}),
                      (f"/campaigns/{world.globex_campaign.id}/review", {"decision": "approve"}),
                      ("/complaints", {"number": "13800138000", "tenant": "acme", "channel": "hotline"}),
                      ("/logout", {})]:
        response = b.client.post(url, data=data)
        assert response.status_code == 400, url
        assert "CSRF" in response.get_data(as_text=True)
        response = b.client.post(url, data={**data, "csrf_token": "forged"})
        assert response.status_code == 400, url
    anonymous = browser()
    assert anonymous.client.post("/login", data={"username": "op", "password": PASSWORD}).status_code == 400


def test_disabling_or_resetting_ends_existing_sessions(world, browser):
    b = browser("acme_admin")
    assert b.get("/").status_code == 200
    users.reset_password("acme_admin", "a brand new password")
    assert b.get("/").status_code == 302
    c = browser("auditor")
    users.disable_user("auditor")
    assert c.get("/").status_code == 302


def test_auditor_is_read_only(world, browser):
    b = browser("auditor")
    assert b.get("/tenants").status_code == 200
    assert "新建租户" not in b.get("/tenants").get_data(as_text=True)
    for url, data in [("/dnc", {"number": "13800138000", "tenant": "acme"}),
                      ("/tenants", {"code": "x"}),
                      (f"/campaigns/{world.globex_campaign.id}/review", {"decision": "approve"}),
                      ("/tenants/acme/topup", {"amount": "10"}),
                      ("/complaints", {"number": "13800138000", "tenant": "acme", "channel": "hotline"})]:
        assert b.post(url, data).status_code == 403, url
    assert b.post("/account/tokens", {"name": "mine"}).status_code == 200


def test_tenant_admin_cannot_use_operator_pages(world, browser):
    b = browser("acme_admin")
    assert b.get("/tenants").status_code == 403
    assert b.get("/tenants/acme").status_code == 403
    assert b.post("/tenants/acme/topup", {"amount": "100"}).status_code == 403
    assert b.post(f"/campaigns/{world.acme_campaign.id}/review", {"decision": "approve"}).status_code == 403
    assert "租户</a>" not in b.get("/").get_data(as_text=True).split("<main>")[0]


def test_api_token_reads_but_cannot_write(world, browser, app):
    b = browser("acme_admin")
    page = b.post("/account/tokens", {"name": "bi"}).get_data(as_text=True)
    token = page.split('id="new-token">')[1].split("<")[0]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get("/calls/export.csv", headers=headers)
    assert response.status_code == 200 and "acme" in response.get_data(as_text=True)
    assert "globex" not in response.get_data(as_text=True)
    assert client.post("/dnc", data={"number": "13800138000"}, headers=headers).status_code in (400, 403)
    assert client.get("/calls", headers={"Authorization": "Bearer fsa_nonsense"}).status_code == 401
    token_id = page.split("/account/tokens/")[1].split("/")[0]
    assert b.post(f"/account/tokens/{token_id}/revoke", token_from="/account").status_code == 302
    assert client.get("/calls", headers=headers).status_code == 401
    assert token not in b.get("/account").get_data(as_text=True)


def test_secret_key_is_generated_once_with_0600(world, settings):
    create_app(settings, testing=True)
    path = settings.data_dir / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = path.read_text()
    create_app(settings, testing=True)
    assert path.read_text() == key


def test_secret_key_setting_wins(world, settings):
    app = create_app(settings.replace(secret_key="x" * 40), testing=True)
    assert app.config["SECRET_KEY"] == "x" * 40


def test_english_switch(world, browser):
    b = browser("op")
    assert "通话记录" in b.get("/calls").get_data(as_text=True)
    assert b.get("/lang/en?next=/calls").headers["Location"] == "/calls"
    english = b.get("/calls").get_data(as_text=True)
    assert "Call records" in english and "通话记录" not in english
    assert b.get("/lang/fr").status_code == 404
    b.get("/lang/zh")
    assert "通话记录" in b.get("/calls").get_data(as_text=True)


def test_secret_key_created_by_another_process_meanwhile_is_the_one_used(settings, monkeypatch):
    """Workers of `fsapp serve --workers` start together: the first complete key file wins and no
    process reads a half-written one."""
    from admin import secret

    path = settings.data_dir / "secret_key"
    real_link = os.link

    def another_process_was_first(source, target):
        Path(target).write_text("k" * 64 + "\n")
        return real_link(source, target)

    monkeypatch.setattr(secret.os, "link", another_process_was_first)
    assert secret.load_secret_key(settings) == "k" * 64
    assert sorted(p.name for p in path.parent.iterdir() if "secret" in p.name) == ["secret_key"]
