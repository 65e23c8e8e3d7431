"""One language per page, on every page of the admin (issue 17): each GET route of ``app.url_map``
(a new page is covered without editing this file: a route this file cannot fill in fails the
test), rendered in Chinese and in English, as an operator and as a tenant admin, and every form
of those pages submitted with values the models refuse (their validation states). A Chinese page
shows no English words beyond codes and names, an English page no Chinese beyond what users
typed, neither shows raw codes, and a time of day is never UTC without the zone named."""
from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from models.ledger import topups
from domain.clock import utcnow

from test_i18n import HAN

#: raw codes that must never reach a page as they are stored (labels exist for each)
RAW_CODES = ("metering:app", "restricted_industry", "NO_CONSENT", "agent_recorded", "disclosure")
#: routes that are not pages: files, JSON, the language switch and the login itself
NOT_PAGES = {"static", "auth.set_language", "auth.login", "calls.recording", "calls.export", "reports.export",
             "live.data"}
#: what users typed into the world (names, scripts, sources): either language shows it as typed
TYPED = {"阿克米科技", "环球公司", "阿克米", "环球", "中文", "您好，这里是阿克米，为您介绍新产品。", "低息贷款，股票推荐，欢迎咨询",
         "低息贷款", "股票推荐", "股票", "贷款", "web form", "contract", "asked", "auditor",
         "上海市"}  # place names come from the +86 geography table, in Chinese only
ENGLISH_WORDS = re.compile(r"\b(?!(?:acme|globex|spring|loans|PII|CSV|SIP|UUID|ID|English|fsapp|admin|ms|UTC|"
                           r"FreeSWITCH|API|CDR|MB|Bearer|Authorization|A\d+|B\d+|C\d+|D\d+)\b)[A-Za-z]{4,}\b")
#: the world's events happen between 09:00 and 10:59 Beijing time (01:00-02:59 UTC) on the test day
UTC_TIME = re.compile(r"\b0[12]:\d\d(?::\d\d)?\b(?!\s*UTC)")
USERS = ("op", "acme_admin")


def route_values(world) -> dict[str, object]:
    """A value for every URL parameter name the admin uses: records of the world, acme's."""
    from models.accounts.users import AdminUser

    return {"call_id": world.acme_call.id, "campaign_id": world.acme_campaign.id, "lease_id": world.acme_number.id,
            "seat_id": world.acme_seat.id, "code": "acme", "uuid": world.live_hold.call_uuid,
            "user_id": AdminUser.get(AdminUser.username == "acme_pii").id, "token_id": 1}


def page_urls(app, world) -> list[str]:
    values = route_values(world)
    urls = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        missing = set(rule.arguments) - values.keys()
        assert not missing, f"give {rule.rule} a value for {missing} in route_values"
        urls.append(rule.build({name: values[name] for name in rule.arguments})[1])
    return urls + ["/no-such-page", "/reports?period=30d&by=seat", "/reports?period=7d&by=campaign",
                   "/calls?reason=DNC", "/audit?from=2026-11-01&to=2026-11-30"]


def _visible_text(html: str) -> str:
    html = re.sub(r"<(script|style|svg)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r"<(code|pre)\b.*?</\1>", " ", html, flags=re.S)  # ids, tokens, scripts as written
    html = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"[\w.+-]*[@.][\w-]+\.[\w.-]+", " ", html)  # SIP addresses, domains, user agents


def leaks(lang: str, html: str, typed: frozenset = frozenset()) -> list[str]:
    """What on the page is not in its language: raw codes, words of the other language, UTC times.
    ``typed``: more text the user typed (shown back as typed)."""
    visible = _visible_text(html)
    found = [f"raw code {code}" for code in RAW_CODES if code in visible]
    found += [f"UTC time {t}" for t in UTC_TIME.findall(visible)]
    for name in sorted(TYPED | typed, key=len, reverse=True):
        visible = visible.replace(name, " ")
    pattern = ENGLISH_WORDS if lang == "zh" else HAN
    found += [f"{m.group()!r} in …{' '.join(visible[max(0, m.start() - 40):m.end() + 40].split())}…"
              for m in pattern.finditer(visible) if m.group() not in ("example", "com")]
    return found


class Forms(HTMLParser):
    """The POST forms of a page: action and fields (inputs, selects with their first option, textareas)."""

    def __init__(self):
        super().__init__()
        self.forms: list[tuple[str, dict]] = []
        self._fields = None
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("method", "get").lower() == "post":
            self._fields = {}
            self.forms.append((a.get("action", ""), self._fields))
        elif self._fields is None:
            return
        elif tag == "input" and a.get("name") and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and a["name"] in self._fields:
                return
            self._fields[a["name"]] = (a.get("type", "text"), a.get("value") or "")
        elif tag == "textarea" and a.get("name"):
            self._fields[a["name"]] = ("textarea", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif tag == "option" and self._select and self._select not in self._fields:
            self._fields[self._select] = ("select", a.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._fields = None
        elif tag == "select":
            self._select = None


#: form actions not submitted: they end the session, change the whole tenant's standing (their
#: confirm pages are GET pages, scanned above), or reach FreeSWITCH
NOT_SUBMITTED = re.compile(r"^/(logout|tenants/[^/]+/(terminate|ban|unban|status)|live/calls/)")
#: values no rule accepts: a number, phone number, date, time or code that is none of these; and nothing
REFUSED_VALUES = ("12x", "")


def refused_form(fields: dict, refused: str) -> dict:
    """Every typed field filled with ``refused``; hidden fields, choices and boxes as the page has them."""
    return {name: value if name == "csrf_token" or kind in ("hidden", "select", "checkbox", "radio") else refused
            for name, (kind, value) in fields.items()}


@pytest.fixture
def scanned_world(world, clock):
    clock.freeze()
    topups.topup("acme", 500, note="")  # a ledger entry with an actor
    world.acme_campaign  # noqa: B018
    return world


@pytest.mark.parametrize("username", USERS)
def test_every_page_speaks_one_language(app, scanned_world, browser, username):
    b = browser(username)
    urls = page_urls(app, scanned_world)
    problems = {}
    for lang in ("zh", "en"):
        b.get(f"/lang/{lang}?next=/")
        for url in urls:
            response = b.get(url)
            assert response.status_code in (200, 403, 404), (url, response.status_code)
            found = leaks(lang, response.get_data(as_text=True))
            if found:
                problems[(lang, url)] = found[:12]
    assert not problems, problems


#: query arguments the pages read (dates, periods, pages, filters), each given a value it cannot take
BAD_ARGUMENTS = "?from=2026-13-45&to=yesterday&month=2026-13&period=year&by=planet&before=bogus-key&after=bogus-key&page=-1" \
                "&q=12345&number=abc&status=nonsense&reason=NOPE&result=nope&tenant=nobody&show=what"
BAD_VALUES = frozenset(pair.split("=")[1] for pair in BAD_ARGUMENTS[1:].split("&"))  # a page may say what it refused


@pytest.mark.parametrize("username", USERS)
def test_every_page_given_bad_arguments_speaks_one_language(app, scanned_world, browser, username):
    b = browser(username)
    problems = {}
    for lang in ("zh", "en"):
        b.get(f"/lang/{lang}?next=/")
        for url in page_urls(app, scanned_world):
            response = b.get(url.split("?")[0] + BAD_ARGUMENTS)
            assert response.status_code in (200, 400, 403, 404), (url, response.status_code)
            found = leaks(lang, response.get_data(as_text=True), BAD_VALUES)
            if found:
                problems[(lang, url)] = found[:12]
    assert not problems, problems


@pytest.mark.parametrize("username", USERS)
def test_every_refused_form_speaks_one_language(app, scanned_world, browser, username):
    """Each POST form on the pages, submitted with values the models refuse: the page that says
    so (and the page a redirect leads to) is in the page's language."""
    b = browser(username)
    problems, submitted = {}, set()
    for lang in ("zh", "en"):
        b.get(f"/lang/{lang}?next=/")
        for url in page_urls(app, scanned_world):
            page = b.get(url)
            if page.status_code != 200:
                continue
            parser = Forms()
            parser.feed(page.get_data(as_text=True))
            for action, fields in parser.forms:
                action = action or url
                if NOT_SUBMITTED.match(action) or (lang, action) in submitted:
                    continue
                submitted.add((lang, action))
                for refused in REFUSED_VALUES:
                    response = b.post(action, refused_form(fields, refused), token_from=url, follow_redirects=True)
                    found = leaks(lang, response.get_data(as_text=True))
                    if found:
                        problems[(lang, action, refused)] = found[:12]
    assert len(submitted) > 20
    assert not problems, problems


def test_the_scan_sees_each_kind_of_leak():
    assert leaks("zh", "<p>invalid phone number</p>") and leaks("en", "<p>号码无效</p>")
    assert leaks("zh", "<td>NO_CONSENT</td>") and leaks("en", "<td>metering:app</td>")
    assert leaks("zh", "<td>2026-11-23 01:30</td>") and leaks("en", "<td>02:00:05</td>")
    assert not leaks("zh", "<td>2026-11-23 09:30</td><td>02:00 UTC</td><p>阿克米 acme 已保存</p><code>fsa_token</code>")
    assert not leaks("en", "<p>Saved 阿克米科技 at 10:00 Beijing time</p>")


def test_every_prompt_has_a_label():
    """A call's prompts are shown by label: each prompt the app can play has one."""
    from admin.labels import PROMPT
    from fs_app.prompts.catalogue import PROMPTS

    assert set(PROMPTS) <= set(PROMPT)
