"""The reports page with 40 days of calls, in a real browser (Debian's chromium through
Playwright) at 1366 and 800 px in both languages: the figures the page shows are those of the raw
call records, the table and charts fit, labels stay whole; and the live view names a call's
direction in the page's language. Screenshots go to test-artifacts/admin/ (to look at them)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from admin import reports
from domain.clock import utcnow

from test_browser import ARTIFACTS, chromium, signed_in, site  # noqa: F401 - fixtures
from test_report_rollup import calls, raw_figures  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("db", ["sqlite"], indirect=True)]

ONE_LINE = """() => Array.from(document.querySelectorAll('#report .badge, #report td.num, #report td.name'))
    .filter(cell => { const range = document.createRange(); range.selectNodeContents(cell);
        return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1; })
    .map(cell => cell.innerText)"""


@pytest.mark.parametrize("width", [1366, 800])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reports_with_weeks_of_calls_fit_and_show_the_raw_figures(chromium, site, calls, width, lang):  # noqa: F811
    days = reports.period_from("30d", "", utcnow()).days
    counts, _reasons, _per_day = raw_figures(days, None, "seat")
    context, page = signed_in(chromium, site, width, lang)
    try:
        page.goto(site + "/reports?period=30d&by=seat")
        expect(page.locator("#total-calls")).to_have_text(str(sum(c["calls"] for c in counts.values())))
        expect(page.locator("#report tr:has(td.name)")).to_have_count(len(counts))  # one row per seat, the unknown one too
        expect(page.locator("#report")).to_contain_text("未知坐席" if lang == "zh" else "Unknown seat")
        expect(page.locator(".chart-calls-per-day svg")).to_be_visible()
        chart = page.locator(".chart-blocked-reasons svg").bounding_box()
        for legend in page.locator(".chart-blocked-reasons svg .legend").all():  # every reason's name inside the chart
            box = legend.bounding_box()
            assert box["y"] + box["height"] <= chart["y"] + chart["height"] + 1, legend.inner_text()
        assert "…" not in page.inner_text(".chart-calls-per-day")  # day labels whole
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"reports-30d-seat-{lang}-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0  # the table scrolls in its box
        assert not page.evaluate(ONE_LINE)  # names, figures and reason badges on one line
        page.select_option("select[name=by]", "campaign")
        page.click("#report-filters button[type=submit]")
        expect(page.locator("#report tr:has(td.name)")).to_have_count(len(raw_figures(days, None, "campaign")[0]))
    finally:
        context.close()


@pytest.mark.parametrize("lang, outbound", [("zh", "呼出"), ("en", "Outbound")])
def test_the_live_view_names_the_direction_in_the_pages_language(chromium, site, world, lang, outbound):  # noqa: F811
    context, page = signed_in(chromium, site, 1366, lang)
    try:
        page.goto(site + "/live")
        row = page.locator("#live-calls tr[data-uuid='live-1']")
        expect(row).to_contain_text(outbound)
        expect(page.locator("#live-view")).to_have_attribute("data-updated", "1", timeout=20_000)  # after a refresh too
        expect(row).to_contain_text(outbound)
        assert "outbound" not in row.inner_text()
    finally:
        context.close()
