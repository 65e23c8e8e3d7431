"""Issue 14: live calls never depend on the web admin or a stuck database.

* the admin takes its connections from its own pool and gives every one back (the leak), so a
  flood of fresh logged-in connections leaves the calls' pool untouched and a call completes;
* past the admission deadline (counted from the socket connect) a call is refused with
  POLICY_UNAVAILABLE and the B6 prompt, whatever held the database (an SQLite write lock, a
  frozen or stopped PostgreSQL behind a loopback proxy), and the refusal is recorded once the
  database allows;
* an admission that ends after its channel hung up or after its deadline leaves no allowed
  record and no hold.
"""
from __future__ import annotations

import sqlite3
import time
import urllib.parse

import gevent
import pytest
from gevent.event import Event
from argon2 import PasswordHasher

import models
from bench.faults import db_faults
from bench.faults.tcp_proxy import TcpProxy
from fs_app import admission as admission_module
from fs_app.deferred_records import DEFERRED
from fs_app import charging
from fs_app.http_server import NoDelayWSGIServer
from fs_app.runtime import build_web_app
from fake_switch import LegScript, Press
from models.accounts import users
from models.calls.tables import Attempt
from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow
from models.db import CALLS, WEB, pool_role, pool_stats
from fs_app.policy import CallRequest

from .conftest import CALLEE, SEAT_DOMAIN, SEAT_USER, make_tenant, names, place_agent_call, played

B6_UNAVAILABLE = (["blocked_system"], "NORMAL_TEMPORARY_FAILURE")


def in_use() -> dict[str, int]:
    return {role: stats["in_use"] for role, stats in pool_stats().items()}


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Poll a condition the app reaches by itself (connections going back after a response)."""
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            return False
        gevent.sleep(0.01)
    return True


def complete_a_call(fake):
    call = place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("2")])})
    assert call.wait_for("b-leg:bridge", 20)
    call.callee_legs[0].hangup()
    assert call.wait_ended(20)
    return call


def test_an_admin_flood_leaves_the_calls_pool_alone_and_every_connection_goes_back(
        db, make_settings, telephony, monkeypatch, request):
    monkeypatch.setattr(users, "password_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    make_tenant()
    users.add_user("op", role="operator", password=db_faults.PASSWORD)
    web_pool = models.database.pools()[WEB]
    monkeypatch.setattr(web_pool, "_max_connections", 3)
    models.database.close()  # the test's own connection is not part of the count
    settings = make_settings(database_url=request.node.database_url)  # the admin opens the same database
    fake = telephony.start(settings)
    server = NoDelayWSGIServer(("127.0.0.1", 0), build_web_app(settings, telephony.servers[0]), log=None)
    server.start()
    try:
        port = server.server_port
        cookie = db_faults.login(port, "op", db_faults.PASSWORD)
        pages = ["/", "/calls", "/calls/export.csv"] * 3  # 3x the web pool, each on a new connection
        statuses = [db_faults.request(port, "GET", path, cookie=cookie)[0] for path in pages]
        assert statuses == [200] * len(pages)
        assert wait_until(lambda: in_use()[WEB] == 0), in_use()
        assert web_pool.timeouts == 0  # no request ever found the pool empty for long
        call = complete_a_call(fake)
        assert telephony.wait_idle()
        assert wait_until(lambda: in_use() == {CALLS: 0, WEB: 0}), in_use()
    finally:
        server.stop(timeout=2)
    record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
    assert (record.decision, record.result) == ("allowed", "completed")


def test_a_write_lock_held_elsewhere_refuses_by_the_deadline_without_freezing_the_loop(
        sqlite_db, make_settings, telephony):
    make_tenant()
    models.database.close()
    fake = telephony.start(make_settings(admission_deadline_s=0.5))
    ticks = []
    ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.005)) for _ in iter(int, 1)])
    other = sqlite3.connect(models.database.obj.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's long import, say
    calls_pool = models.database.pools()[CALLS]
    retries_before = calls_pool.lock_retries
    try:
        ticks_before = len(ticks)
        call = place_agent_call(fake)
        assert call.wait_ended(10)
        assert (names(played(call.a_leg)), call.a_leg.hangup_cause) == B6_UNAVAILABLE
        assert call.callee_legs == []
        # the admission yielded while it waited: the loop kept running other greenlets
        assert calls_pool.lock_retries > retries_before
        assert len(ticks) - ticks_before >= 10
        assert not CallRecord.select().where(CallRecord.agent_uuid == call.a_leg.uuid).exists()
    finally:
        other.execute("ROLLBACK")
        other.close()
        ticker.kill()
    assert DEFERRED.flush(10)  # the lock is gone: the refusal is recorded
    record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
    assert (record.decision, record.reasons) == ("blocked", ["POLICY_UNAVAILABLE"])
    assert (record.prompts, record.hangup_cause) == B6_UNAVAILABLE
    assert "deadline" in record.facts["reason_details"]["POLICY_UNAVAILABLE"]
    assert Hold.select().count() == 0


@pytest.fixture
def proxied_postgres(db, request, tmp_path):
    """The models bound to the test's PostgreSQL database through a loopback proxy (short call
    timeouts); the shared server itself is never stopped."""
    if db != "postgres":
        pytest.skip("PostgreSQL only")
    url = request.node.database_url
    proxy = TcpProxy(("127.0.0.1", urllib.parse.urlsplit(url).port or 5432)).start()
    models.database.close()
    models.open_database(proxy.url_for(url), tmp_path / "proxied", pool_size=4, call_timeout_s=0.5)
    try:
        yield proxy
    finally:
        proxy.thaw()
        DEFERRED.discard()
        models.database.close()
        models.db.close_all_pools()
        proxy.stop()
        models.open_database(url, tmp_path, pool_size=8)


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
@pytest.mark.parametrize("fault", ["frozen", "down"])
def test_postgresql_frozen_or_down_refuses_with_b6_and_records_later(proxied_postgres, make_settings,
                                                                      telephony, fault):
    proxy = proxied_postgres
    make_tenant()
    with pool_role(CALLS):  # a pooled call connection already open when the server stops answering
        models.database.connect()
        models.database.execute_sql("SELECT 1")
        models.database.close()
    models.database.close()
    fake = telephony.start(make_settings(admission_deadline_s=0.5))
    proxy.freeze() if fault == "frozen" else proxy.stop()
    try:
        call = place_agent_call(fake)
        assert call.wait_ended(10)
        assert (names(played(call.a_leg)), call.a_leg.hangup_cause) == B6_UNAVAILABLE
        assert call.callee_legs == []
        assert DEFERRED.pending == 1 and not DEFERRED.flush(0.5)  # nothing reaches the database meanwhile
    finally:
        proxy.thaw() if fault == "frozen" else proxy.start()
    assert DEFERRED.flush(20)
    record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
    assert (record.decision, record.reasons) == ("blocked", ["POLICY_UNAVAILABLE"])
    assert Hold.select().count() == 0 and Attempt.select().count() == 0
    assert telephony.wait_idle()


def test_an_admission_that_ends_after_its_deadline_leaves_no_allowed_record_and_no_hold(
        db, settings, monkeypatch):
    make_tenant()
    real_decide = admission_module.decide

    def slow_decide(*args, **kwargs):  # the deadline passes while the policy decides
        decision = real_decide(*args, **kwargs)
        gevent.sleep(0.3)
        return decision

    monkeypatch.setattr(admission_module, "decide", slow_decide)
    request = CallRequest(call_uuid="late-1", dialled="13800138000", seat_address=f"{SEAT_USER}@{SEAT_DOMAIN}",
                          authenticated=True)
    admission = admission_module.admit(request, utcnow(), settings, timeout_s=0.1)
    assert admission.codes == ("POLICY_UNAVAILABLE",) and admission.callee_uuid is None
    assert DEFERRED.flush(10)
    assert [(r.decision, r.reasons) for r in CallRecord.select()] == [("blocked", ["POLICY_UNAVAILABLE"])]
    assert Hold.select().where(Hold.released_at.is_null()).count() == 0
    assert Attempt.select().count() == 0


def test_an_admission_that_ends_after_the_agent_hung_up_leaves_no_allowed_record_and_no_hold(
        db, make_settings, telephony, monkeypatch):
    make_tenant()
    models.database.close()
    fake = telephony.start(make_settings())
    server = telephony.servers[0]
    decided = Event()
    real_admit = charging.admit

    def admit_then_see_the_hangup(request, *args, **kwargs):
        admission = real_admit(request, *args, **kwargs)
        decided.set()
        channel = next(c for c in server._channels.values() if c.uuid == request.call_uuid)
        assert wait_until(lambda: channel.is_gone)
        return admission

    monkeypatch.setattr(charging, "admit", admit_then_see_the_hangup)
    call = place_agent_call(fake)
    assert decided.wait(10)
    call.a_leg.hangup("ORIGINATOR_CANCEL")
    assert call.wait_ended(10) and telephony.wait_idle()
    assert call.callee_legs == []
    assert DEFERRED.flush(10)
    record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
    assert (record.decision, record.reasons) == ("blocked", ["POLICY_UNAVAILABLE"])
    assert "hung up" in record.facts["reason_details"]["POLICY_UNAVAILABLE"]
    assert Hold.select().where(Hold.released_at.is_null()).count() == 0
    assert Attempt.select().count() == 0
