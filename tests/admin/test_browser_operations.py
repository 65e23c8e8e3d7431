"""The operations pages in a real browser (Debian's chromium through Playwright): every new form
filled and submitted as a person would, the confirm steps, passwords shown once, and the live
view refreshing itself (the test changes the data and waits for the page to show it: it waits on
the DOM, never on a sleep). Screenshots of the main pages at 1366x768 in Chinese and English go to
the test's tmp dir (and to $FSAPP_SCREENSHOT_DIR when set, to look at them)."""
from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from models.calls.tables import Hold
from domain.clock import utcnow
from models.lists.tables import Consent
from models.accounts.tables import AdminUser
from models.tenancy.tables import Campaign, Tenant
from models.seats.tables import NumberLease, Seat


from test_browser import chromium, page_for, site  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

REFRESH_WAIT_MS = 20_000  # a failure bound: the page refreshes every 3 s


@pytest.fixture
def app(app_with_freeswitch):
    return app_with_freeswitch


@pytest.fixture
def shots(tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    extra = os.environ.get("FSAPP_SCREENSHOT_DIR")

    def shot(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        if extra:
            Path(extra).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(extra) / path.name)
        return path

    return shot


@pytest.fixture
def open_as(page_for):  # noqa: F811
    """Signed in as ``username`` at 1366x768, in English if asked."""
    def login(username: str, *, english: bool = False):
        page = page_for(username)
        page.set_viewport_size({"width": 1366, "height": 768})
        if english:
            page.click("text=English")
        return page

    return login


def test_the_live_view_refreshes_itself_and_ends_a_call(open_as, site, world, freeswitch, shots):  # noqa: F811
    page = open_as("op")
    page.click("nav >> text=实时监控")
    expect(page.locator("#live-calls tr[data-uuid='live-1']")).to_have_count(1)
    expect(page.locator("#live-seats tr[data-seat='1001@acme.example.com']")).to_have_attribute("data-state", "in_call")
    expect(page.locator("#live-seats tr[data-seat='2001@globex.example.com']")).to_have_attribute(
        "data-state", "unregistered")
    # the world changes: a new call, a phone registers, the first call ends
    Hold.create(call_uuid="live-2", tenant=world.globex, seat=world.globex_seat, callee_number="+8613700137002",
                amount_fen=60, expires_at=utcnow() + timedelta(minutes=5))
    freeswitch.register("2001", "globex.example.com", agent="Globex-Phone/1.0")
    expect(page.locator("#live-calls tr[data-uuid='live-2']")).to_have_count(1, timeout=REFRESH_WAIT_MS)
    expect(page.locator("#live-call-count")).to_have_text("2", timeout=REFRESH_WAIT_MS)
    assert "137****7002" in page.inner_text("#live-calls tr[data-uuid='live-2']")
    Hold.update(released_at=utcnow()).where(Hold.call_uuid == "live-2").execute()
    Hold.update(seat=None).where(Hold.call_uuid == "live-1").execute()
    expect(page.locator("#live-calls tr[data-uuid='live-2']")).to_have_count(0, timeout=REFRESH_WAIT_MS)
    expect(page.locator("#live-seats tr[data-seat='2001@globex.example.com']")).to_have_attribute(
        "data-state", "idle", timeout=REFRESH_WAIT_MS)
    expect(page.locator("#live-seats tr[data-seat='1001@acme.example.com']")).to_have_attribute(
        "data-state", "unregistered", timeout=REFRESH_WAIT_MS)
    assert int(page.get_attribute("#live-view", "data-updated")) >= 1
    shots(page, "live-zh")
    # end the call that is left: a confirm page, then FreeSWITCH's uuid_kill
    freeswitch.add_channel("live-1")
    page.click("#live-calls tr[data-uuid='live-1'] a.end-call")
    page.wait_for_url("**/live/calls/live-1/end")
    shots(page, "end-call-confirm-zh")
    page.select_option("select[name=cause]", "NORMAL_CLEARING")
    page.click("#confirm-button")
    page.wait_for_url(site + "/live")
    expect(page.locator(".flash")).to_contain_text("已通知 FreeSWITCH 挂断通话 live-1")
    assert freeswitch.killed == [("live-1", "NORMAL_CLEARING")]


def test_an_operator_runs_a_tenant_from_the_browser(open_as, site, world, shots):  # noqa: F811
    page = open_as("op")
    page.goto(site + "/tenants/acme")
    page.click("#settings-link")
    page.fill("#settings-form input[name=rate]", "0.15")
    page.fill("#settings-form input[name=seats]", "4")
    page.fill("#settings-form input[name=hotline]", "4008007000")
    page.click("#settings-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已保存租户 acme 的设置")
    acme = Tenant.get_by_id(world.acme.id)
    assert (acme.rate_out_fen, acme.seats_purchased, acme.hotline) == (15, 4, "+864008007000")
    page.fill("#windows-form input[name=windows]", "20:00-21:00")
    page.click("#windows-form button[type=submit]")
    expect(page.locator("#windows-panel .error")).to_contain_text("超出平台时段")
    page.fill("#payout-form input[name=amount]", "5.50")
    page.fill("#payout-form input[name=note]", "service credit")
    page.click("#payout-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("¥5.50")
    shots(page, "tenant-settings-zh")
    page.click("#terminate-link")
    shots(page, "terminate-confirm-zh")
    page.select_option("select[name=kind]", "violation")
    page.fill("input[name=reason]", "fraud")
    page.click("#confirm-button")
    expect(page.locator(".flash")).to_contain_text("租户 acme 已终止")
    assert Tenant.get_by_id(world.acme.id).status == "terminated"


def test_seat_number_campaign_and_consent_forms(open_as, site, world, freeswitch, shots):  # noqa: F811
    page = open_as("acme_admin")
    page.click("nav >> text=坐席")
    page.click("#seats a:has-text('1001@acme.example.com')")
    page.select_option("#routing-form select[name=pin_number]", "+862150000001")
    page.select_option("#routing-form select[name=campaign]", "spring")
    page.click("#routing-form button[type=submit]")
    expect(page.locator("#seat-pinned")).to_have_text("+862150000001")
    page.click("#password-form button")
    expect(page.locator("#issued-password code")).to_be_visible()
    shots(page, "seat-password-zh")
    page.goto(site + f"/seats/{world.acme_seat.id}")  # the seat's page again: the password is not on it
    expect(page.locator("#issued-password")).to_have_count(0)
    page.click("#disable-link")
    page.click("#confirm-button")
    expect(page.locator("#seat-state")).to_have_text("已停用")
    assert not Seat.get_by_id(world.acme_seat.id).active
    page.click("#enable-form button")
    expect(page.locator("#seat-state")).to_have_text("有效")
    # the number: how inbound calls ring
    page.click("nav >> text=号码")
    page.click("#numbers a:has-text('+862150000001')")
    page.select_option("#number-settings-form select[name=inbound_mode]", "sequential")
    page.click("#number-settings-form button[type=submit]")
    expect(page.locator("#number-inbound-mode")).to_have_text("依次振铃")
    assert page.locator("#release-link").count() == 0  # the operator's act
    shots(page, "number-zh")
    # the script, back to review; recording off
    page.goto(site + f"/campaigns/{world.acme_campaign.id}")
    page.fill("#script-form textarea[name=script]", "您好，这里是阿克米，这是修改后的话术。")
    page.click("#script-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("重新送审")
    page.click("#record-form button")
    expect(page.locator(".flash")).to_contain_text("录音已关闭")
    assert not Campaign.get_by_id(world.acme_campaign.id).record
    # consent revoked
    page.click("nav >> text=同意记录")
    page.fill("#consent-revoke input[name=number]", "13800138000")
    page.click("#consent-revoke button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("已撤销 1 条同意记录")
    assert Consent.get(Consent.number == "+8613800138000").revoked_at is not None


def test_an_operator_releases_a_number(open_as, site, world):  # noqa: F811
    page = open_as("op")
    page.goto(site + f"/numbers/{world.globex_number.id}")
    page.fill("#number-settings-form input[name=max_calls]", "3")
    page.click("#number-settings-form button[type=submit]")
    expect(page.locator("#number-max-calls")).to_have_text("3")
    page.click("#release-link")
    page.click("#confirm-button")
    expect(page.locator("#number-state")).to_have_text("已释放")
    assert NumberLease.get_by_id(world.globex_number.id).released_at is not None


def test_logins_are_managed_in_the_browser(open_as, site, world, chromium, shots):  # noqa: F811
    page = open_as("op")
    page.click("nav >> text=登录账号")
    page.fill("#user-add input[name=username]", "acme_ops")
    page.select_option("#user-add select[name=role]", "tenant_admin")
    page.select_option("#user-add select[name=tenant]", "acme")
    page.click("#user-add button[type=submit]")
    password = page.inner_text("#issued-password code")
    assert len(password) >= 12
    shots(page, "users-zh")
    user = AdminUser.get(AdminUser.username == "acme_ops")
    page.goto(site + f"/users/{user.id}")
    page.click("#reset-form button")
    new_password = page.inner_text("#issued-password code")
    assert new_password != password
    page.click("#pii-form button")
    expect(page.locator("#user-pii")).to_have_text("是")
    page.click("#disable-link")
    page.click("#confirm-button")
    expect(page.locator("#user-standing")).to_contain_text("已停用")
    page.click("#enable-form button")
    expect(page.locator("#user-standing")).to_have_text("启用")
    shots(page, "user-detail-zh")
    # the new login signs in with the password it was given
    other = chromium.new_page()
    other.goto(site + "/login")
    other.fill("input[name=username]", "acme_ops")
    other.fill("input[name=password]", new_password)
    other.click("button[type=submit]")
    other.wait_for_url(site + "/")
    other.close()


def test_screenshots_in_english(open_as, site, world, shots):  # noqa: F811
    page = open_as("op", english=True)
    for name, path in (("live-en", "/live"), ("tenant-settings-en", "/tenants/acme/settings"),
                       ("seat-en", f"/seats/{world.acme_seat.id}"), ("number-en", f"/numbers/{world.acme_number.id}"),
                       ("users-en", "/users"), ("terminate-confirm-en", "/tenants/globex/terminate")):
        page.goto(site + path)
        expect(page.locator("main h1")).to_be_visible()
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in page.title()), path  # data may be Chinese, words not
        shots(page, name)
    tenant_admin = open_as("acme_admin", english=True)
    tenant_admin.goto(site + "/tenants/acme/settings")
    expect(tenant_admin.locator("#windows-form button")).to_be_visible()
    assert tenant_admin.locator("#settings-form button").count() == 0
    shots(tenant_admin, "tenant-settings-tenant-admin-en")
