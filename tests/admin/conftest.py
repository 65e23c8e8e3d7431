"""Admin fixtures: the app over the test database, a small two-tenant world, and logins that go
through the real login form (CSRF token included)."""
from __future__ import annotations

import re
from datetime import timedelta

import contextlib
import http.client
import urllib.parse

import pytest
from argon2 import PasswordHasher

from models.accounts import users
from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow
from models.complaints.tables import Complaint

from admin import create_app
from fake_switch.http_client import request as http_request
from fs_app.http_server import NoDelayWSGIServer

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    """argon2id with small parameters in tests (production parameters are tested separately)."""
    monkeypatch.setattr(users, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app(settings):
    return create_app(settings, testing=True)


def csrf_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Browser:
    """A test client that logs in through the form and posts forms with their CSRF token."""

    def __init__(self, app, address: str = "127.0.0.1"):
        self.client = app.test_client()
        self.address = address

    def get(self, url, **kwargs):
        return self.client.get(url, environ_base={"REMOTE_ADDR": self.address}, **kwargs)

    def post(self, url, data=None, *, token_from: str = "/", **kwargs):
        """POST a form; the CSRF token is read from a page of the same session (any page has one)."""
        data = dict(data or {})
        if "csrf_token" not in data:
            data["csrf_token"] = csrf_from(self.get(token_from).get_data(as_text=True))
        return self.client.post(url, data=data, environ_base={"REMOTE_ADDR": self.address}, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        page = self.get("/login")
        return self.client.post("/login", data={"username": username, "password": password,
                                                "csrf_token": csrf_from(page.get_data(as_text=True))},
                                environ_base={"REMOTE_ADDR": self.address})


@pytest.fixture
def freeswitch():
    """FreeSWITCH's inbound Event Socket, faked (registrations, channels, uuid_kill)."""
    from fake_switch import FakeInboundEventSocket

    fake = FakeInboundEventSocket("esl-pw")
    yield fake
    fake.close()


@pytest.fixture
def app_with_freeswitch(settings, freeswitch):
    """The admin asking the fake FreeSWITCH; a module uses it as its ``app``."""
    return create_app(settings.replace(inbound_esl_address="{}:{}".format(*freeswitch.address),
                                       esl_password="esl-pw"), testing=True)


@pytest.fixture
def browser(app):
    def make(username: str | None = None, address: str = "127.0.0.1") -> Browser:
        b = Browser(app, address)
        if username:
            response = b.login(username)
            assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return b

    return make


@contextlib.contextmanager
def serving(app):
    """The app on gevent's WSGIServer, as `fsapp serve` runs it, on a free loopback port."""
    server = NoDelayWSGIServer(("127.0.0.1", 0), app, log=None)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.stop(timeout=2)


@pytest.fixture
def served(app):
    with serving(app) as url:
        yield url


class Wire:
    """Raw HTTP to a served app, cookies handled by hand (so a test can copy one)."""

    def __init__(self, base_url: str):
        parts = urllib.parse.urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port

    def request(self, method: str, path: str, *, cookie: str = "", form: dict | None = None,
                headers: dict | None = None) -> tuple[int, http.client.HTTPMessage, str]:
        return http_request(self.host, self.port, method, path, cookie=cookie, form=form, headers=headers)

    @staticmethod
    def cookie_from(headers: http.client.HTTPMessage, previous: str = "") -> str:
        """The session cookie a response set ("name=value"), or the previous one."""
        set_cookie = headers.get("Set-Cookie")
        return set_cookie.split(";", 1)[0] if set_cookie else previous

    def login(self, username: str, password: str = PASSWORD, *, headers: dict | None = None) -> tuple[int, str]:
        """(status, session cookie) of a login through the form."""
        _status, page_headers, page = self.request("GET", "/login", headers=headers)
        cookie = self.cookie_from(page_headers)
        status, answer_headers, _body = self.request(
            "POST", "/login", cookie=cookie, headers=headers,
            form={"username": username, "password": password, "csrf_token": csrf_from(page)})
        return status, self.cookie_from(answer_headers, cookie)


class World:
    """Two tenants with calls, numbers, campaigns and complaints; one user per role."""


def _call(tenant, seat, campaign, callee, *, at, decision="allowed", reasons=(), result="completed",
          billsec=0, charge=0, recording="", uuid=""):
    return CallRecord.create(
        tenant=tenant, seat=seat, seat_address=seat.address if seat else "", campaign=campaign,
        agent_uuid=uuid or f"a-{tenant.code}-{at.timestamp()}-{callee}", caller_number="+862150000000",
        callee_number=callee, decision=decision, reasons=list(reasons), result=result, created_at=at,
        answered_at=at + timedelta(seconds=5) if billsec else None,
        ended_at=at + timedelta(seconds=5 + billsec) if billsec else at, billsec=billsec,
        billed_minutes=-(-billsec // 60), charge_fen=charge, recording_path=recording,
        recording_digit="1" if recording else "", recording_consent_at=at if recording else None,
        prompts=["disclosure", "agent_recorded"] if decision == "allowed" else [])


@pytest.fixture
def world(db, settings):
    w = World()
    now = utcnow()
    w.acme = tenants.add_tenant("acme", name="阿克米科技", display_name="阿克米", hotline="4008001000",
                                     seats=3, rate=12)
    w.globex = tenants.add_tenant("globex", name="环球公司", display_name="环球", hotline="4008002000",
                                       seats=2, rate=10)
    for tenant in (w.acme, w.globex):
        tenants.set_tenant(tenant.code, status="active")
        topups.topup(tenant.code, 100_00)
    w.acme_seat = seats.add_seat("acme", "1001@acme.example.com")
    w.globex_seat = seats.add_seat("globex", "2001@globex.example.com")
    w.acme_number = number_leases.lease_number("acme", "02150000001", days=3)
    w.globex_number = number_leases.lease_number("globex", "02150000002", days=30)
    keywords = settings.screening_keywords
    w.acme_campaign = campaigns.add_campaign("acme", "spring", script="您好，这里是阿克米，为您介绍新产品。",
                                                keyword_categories=keywords)
    w.globex_campaign = campaigns.add_campaign("globex", "loans", script="低息贷款，股票推荐，欢迎咨询",
                                                  keyword_categories=keywords)
    recordings = settings.recording_dir
    recordings.mkdir(parents=True, exist_ok=True)
    (recordings / "acme-1.wav").write_bytes(b"RIFF----WAVEfmt acme")
    (recordings / "globex-1.wav").write_bytes(b"RIFF----WAVEfmt globex")
    w.acme_call = _call(w.acme, w.acme_seat, w.acme_campaign, "+8613800138000", at=now - timedelta(minutes=30),
                        billsec=61, charge=24, recording="acme-1.wav", uuid="acme-answered")
    w.acme_blocked = _call(w.acme, w.acme_seat, w.acme_campaign, "+8613900139000", at=now - timedelta(minutes=20),
                           decision="blocked", reasons=["DNC", "NO_CONSENT"], result="blocked", uuid="acme-blocked")
    w.globex_call = _call(w.globex, w.globex_seat, w.globex_campaign, "+8613700137000",
                          at=now - timedelta(minutes=10), billsec=30, charge=10, recording="globex-1.wav",
                          uuid="globex-answered")
    w.live_hold = Hold.create(call_uuid="live-1", tenant=w.acme, seat=w.acme_seat, number=w.acme_number,
                              callee_number="+8613800138001", amount_fen=120, expires_at=now + timedelta(seconds=60))
    list_entries.add_consent("acme", "13800138000", source="web form")
    list_entries.add_consent("globex", "13700137000", source="contract")
    list_entries.add_dnc("13600136000", tenant_code="acme", reason="asked")
    list_entries.add_dnc("13500135000", tenant_code="globex", reason="asked")
    w.globex_complaint = Complaint.create(tenant=w.globex, number="+8613700137000", channel="hotline",
                                          received_at=now - timedelta(hours=3), due_at=now - timedelta(hours=1))
    users.add_user("op", role="operator", password=PASSWORD, pii=True)
    users.add_user("auditor", role="auditor", password=PASSWORD)
    users.add_user("acme_admin", role="tenant_admin", tenant_code="acme", password=PASSWORD)
    users.add_user("acme_pii", role="tenant_admin", tenant_code="acme", password=PASSWORD, pii=True)
    users.add_user("globex_admin", role="tenant_admin", tenant_code="globex", password=PASSWORD)
    return w
