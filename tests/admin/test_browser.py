"""The admin in a real browser (Debian's chromium through Playwright): log in, read the dashboard
chart, filter calls, export CSV, approve a script, file a complaint and find the number on the
do-not-call list. Screenshots go to test-artifacts/admin/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from gevent.pywsgi import WSGIServer
from playwright.sync_api import expect

from models.lists.tables import DoNotCall
from models.tenancy.tables import Campaign

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "admin"


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: browser tests must run)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def site(app, world):
    server = WSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.stop(timeout=2)


@pytest.fixture
def page_for(chromium, site):
    contexts = []

    def login(username: str):
        context, page = signed_in(chromium, site, 1360, None, username)
        contexts.append(context)
        return page

    yield login
    for context in contexts:
        context.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_login_and_dashboard_chart(page_for, site, chromium):
    login = chromium.new_page()
    login.goto(site + "/login")
    shot(login, "00-login")
    login.close()
    page = page_for("op")
    chart = page.locator(".chart-calls-per-hour svg")
    assert chart.is_visible()
    assert chart.bounding_box()["height"] > 150
    assert page.locator(".chart-blocked-reasons svg").is_visible()
    assert page.inner_text("#calls-today") == "3"
    assert "禁呼名单" in page.inner_text("#blocked-reasons")
    shot(page, "01-dashboard")


def test_filter_calls_and_export_csv(page_for, site):
    page = page_for("op")
    page.click("text=通话记录")
    expect(page.locator("#calls tr")).to_have_count(4)  # header + 3 calls
    page.select_option("select[name=result]", "blocked")
    page.click("#call-filters button[type=submit]")
    page.wait_for_url("**/calls?*result=blocked*")
    expect(page.locator("#calls tr")).to_have_count(2)
    assert "139****9000" in page.inner_text("#calls")
    shot(page, "02-calls-filtered")
    with page.expect_download() as download:
        page.click("#export-csv")
    content = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(content) == 2 and "DNC,NO_CONSENT" in content[1]
    page.click("#calls a:has-text('详情')")
    assert "号码在平台或租户的禁呼名单上" in page.inner_text("#reasons")
    shot(page, "03-call-detail")


def test_operator_approves_a_script(page_for, world):
    page = page_for("op")
    page.click("text=外呼活动与话术")
    expect(page.locator("#queue mark.hit").nth(1)).to_be_visible()  # at least two hits highlighted
    shot(page, "04-approval-queue")
    page.click(f"#queue a[href='/campaigns/{world.globex_campaign.id}']")
    expect(page.locator("#script mark.hit").first).to_be_visible()
    shot(page, "05-script-review")
    page.fill("#review input[name=note]", "已核实资质")
    page.click("#approve")
    page.wait_for_selector(".flash")
    assert "已批准话术 loans" in page.inner_text(".flash")
    assert Campaign.get_by_id(world.globex_campaign.id).status == "approved"


def test_file_a_complaint_and_find_the_number_on_the_dnc_list(page_for, world):
    page = page_for("acme_admin")
    page.click("text=投诉")
    page.fill("#complaint-add input[name=number]", "13912345678")
    page.select_option("#complaint-add select[name=channel]", "12321")
    page.fill("#complaint-add textarea[name=text]", "多次来电骚扰")
    page.click("#complaint-add button[type=submit]")
    page.wait_for_selector(".flash")
    assert "禁呼名单" in page.inner_text(".flash")
    assert "139****5678" in page.inner_text("#complaints")
    assert page.locator("#complaints .countdown").first.is_visible()
    shot(page, "06-complaints")
    page.click("nav >> text=禁呼名单")
    assert "139****5678" in page.inner_text("#dnc")
    assert "投诉" in page.inner_text("#dnc")
    shot(page, "07-dnc")
    assert DoNotCall.get(DoNotCall.number == "+8613912345678").tenant_id == world.acme.id


def test_tenant_page_and_english(page_for, site):
    page = page_for("op")
    page.goto(site + "/tenants/acme")
    shot(page, "08-tenant")
    page.click("text=English")
    expect(page.locator("main")).to_contain_text("Bans")
    page.goto(site + "/")
    shot(page, "09-dashboard-en")


def signed_in(chromium, site, width: int, lang: str | None, username: str = "op"):  # noqa: F811
    """(context, page) signed in through the login form at ``width`` px, switched to ``lang`` if
    given; the caller closes the context."""
    context = chromium.new_context(viewport={"width": width, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(site + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site + "/")
    if lang:
        page.goto(site + f"/lang/{lang}?next=/")
    return context, page


@pytest.mark.parametrize("width", [1366, 800])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_layout_reports_paging_and_errors_hold_at_both_widths(chromium, site, world, tmp_path, width, lang):
    """Reports, the call list with its pager, a number search and the 404 page at 1366 and 800 px
    in both languages: short labels and dates on one line, the sidebar a top bar when narrow,
    chart legends inside their chart. Screenshots go to the test's tmp dir (and test-artifacts)."""
    context, page = signed_in(chromium, site, width, lang)
    try:
        for name, path in [("reports", "/reports?period=7d&by=seat"), ("calls", "/calls?number=138*"),
                           ("audit", "/audit?from=2026-11-01"), ("missing", "/calls/999999")]:
            page.goto(site + path)
            page.screenshot(path=str(tmp_path / f"{name}-{lang}-{width}.png"), full_page=True)
            shot(page, f"layout-{name}-{lang}-{width}")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0 or name in ("calls", "audit"), (name, overflow)  # wide tables scroll inside their box
            wrapped = page.evaluate("""() => Array.from(document.querySelectorAll('td.status:not(:has(.badge)), td.action, td.date, .badge'))
                .filter(cell => { const range = document.createRange(); range.selectNodeContents(cell);
                    return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1; })
                .map(cell => cell.innerText)""")
            assert not wrapped, (name, wrapped)  # short labels and dates on one line
        sidebar = page.locator(".sidebar").bounding_box()
        if width == 800:
            assert sidebar["width"] >= 780 and sidebar["y"] == 0  # a top bar, not a 200 px column
        else:
            assert sidebar["width"] <= 220
        page.goto(site + "/reports?period=7d")
        expect(page.locator(".chart-blocked-reasons")).to_be_visible()
        legend = page.locator(".chart-blocked-reasons svg .legends").bounding_box()
        chart = page.locator(".chart-blocked-reasons svg").bounding_box()
        if legend and chart:
            assert legend["x"] >= chart["x"] - 1 and legend["x"] + legend["width"] <= chart["x"] + chart["width"] + 1
    finally:
        context.close()
