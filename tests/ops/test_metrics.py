"""fs_app.metrics: the reporting API, the holds read from the database, and /metrics, /healthz,
/readyz over a real HTTP server and mounted next to another WSGI app."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import gevent
import pytest
from gevent.pywsgi import WSGIServer
from peewee import PostgresqlDatabase
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import Client

import models
from fs_app import metrics
from models import Hold, Tenant
from domain.clock import utcnow

REPO = Path(__file__).resolve().parents[2]


def sample(name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def scrape_samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


@pytest.fixture
def http():
    """Serve a WSGI app on 127.0.0.1:<free port> with gevent's server; get(path) -> (status, body)."""
    servers = []

    def serve(app):
        server = WSGIServer(("127.0.0.1", 0), app, log=None)
        server.start()
        servers.append(server)

        def get(path: str, method: str = "GET"):
            request = urllib.request.Request(f"http://127.0.0.1:{server.server_port}{path}", method=method)
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status, response.read().decode(), dict(response.headers)
            except urllib.error.HTTPError as error:
                return error.code, error.read().decode(), dict(error.headers)

        return get

    yield serve
    for server in servers:
        server.stop()


@pytest.fixture
def fresh_holds(monkeypatch):
    """An uncached holds collector, so each scrape reads this test's database."""
    collector = metrics.HoldsCollector(ttl=0)
    monkeypatch.setattr(metrics, "holds_collector", collector)
    return collector


def make_tenant(code="acme") -> Tenant:
    return Tenant.create(code=code, name=code, display_name=code, hotline="+864008123456", status="active")


# --- the reporting API ---------------------------------------------------------------------

def test_blocked_admission_counts_one_decision_and_every_reason():
    before_decisions = sample("fsapp_admission_decisions_total", result="blocked")
    before_dnc = sample("fsapp_admissions_total", result="blocked", reason="DNC")
    before_consent = sample("fsapp_admissions_total", result="blocked", reason="NO_CONSENT")
    before_fast = sample("fsapp_admission_seconds_bucket", le="0.005")
    before_count = sample("fsapp_admission_seconds_count")

    metrics.observe_admission("blocked", ["NO_CONSENT", "DNC", "DNC"], 0.0031)

    assert sample("fsapp_admission_decisions_total", result="blocked") == before_decisions + 1
    assert sample("fsapp_admissions_total", result="blocked", reason="DNC") == before_dnc + 1
    assert sample("fsapp_admissions_total", result="blocked", reason="NO_CONSENT") == before_consent + 1
    assert sample("fsapp_admission_seconds_bucket", le="0.005") == before_fast + 1
    assert sample("fsapp_admission_seconds_count") == before_count + 1


def test_allowed_admission_has_reason_none_and_latency_buckets_are_in_milliseconds():
    before = sample("fsapp_admissions_total", result="allowed", reason="none")
    before_slow = sample("fsapp_admission_seconds_bucket", le="0.1")
    before_fast = sample("fsapp_admission_seconds_bucket", le="0.05")
    metrics.observe_admission("allowed", [], 0.07)
    assert sample("fsapp_admissions_total", result="allowed", reason="none") == before + 1
    assert sample("fsapp_admission_seconds_bucket", le="0.1") == before_slow + 1
    assert sample("fsapp_admission_seconds_bucket", le="0.05") == before_fast  # 70 ms is not <= 50 ms
    assert metrics.ADMISSION_BUCKETS[0] == 0.0005 and metrics.ADMISSION_BUCKETS[-1] == 0.1


def test_label_values_from_bugs_collapse_instead_of_creating_series():
    before_other = sample("fsapp_admissions_total", result="other", reason="OTHER")
    metrics.observe_admission("maybe", ["not a code; drop table"], 0.001)
    assert sample("fsapp_admissions_total", result="other", reason="OTHER") == before_other + 1
    before_kind = sample("fsapp_esl_errors_total", kind="other")
    metrics.esl_error("Timeout {weird}")
    assert sample("fsapp_esl_errors_total", kind="other") == before_kind + 1
    before_timeout = sample("fsapp_esl_errors_total", kind="command_timeout")
    metrics.esl_error("Command-Timeout")
    assert sample("fsapp_esl_errors_total", kind="command_timeout") == before_timeout + 1


def test_charges_db_errors_cdr_mismatches_and_live_calls():
    fen, calls = sample("fsapp_charges_fen_total"), sample("fsapp_charged_calls_total")
    metrics.charge(120)
    metrics.charge(0)  # an answered-then-free call (emergency) is still one charged call
    metrics.charge(-5)  # refused: money never goes backwards through this counter
    metrics.charge(1.5)  # refused: money is integer fen (C2)
    assert sample("fsapp_charges_fen_total") == fen + 120
    assert sample("fsapp_charged_calls_total") == calls + 2

    db = sample("fsapp_db_errors_total", operation="admission")
    metrics.db_error("admission")
    assert sample("fsapp_db_errors_total", operation="admission") == db + 1

    mismatches = sample("fsapp_cdr_mismatches_total")
    metrics.cdr_mismatch()
    metrics.cdr_mismatch(2)
    assert sample("fsapp_cdr_mismatches_total") == mismatches + 3

    metrics.set_live_calls(3)
    metrics.call_started()
    metrics.call_ended()
    metrics.call_ended()
    assert sample("fsapp_live_calls") == 2
    metrics.set_live_calls(-4)
    assert sample("fsapp_live_calls") == 0


# --- holds from the database -----------------------------------------------------------------

def test_holds_are_read_from_the_database_at_scrape_time(db, fresh_holds):
    tenant = make_tenant()
    now = utcnow()
    Hold.create(call_uuid="live-1", tenant=tenant, amount_fen=300, expires_at=now + timedelta(seconds=60))
    Hold.create(call_uuid="live-2", tenant=tenant, amount_fen=120, expires_at=now + timedelta(seconds=60))
    Hold.create(call_uuid="released", tenant=tenant, amount_fen=999, expires_at=now + timedelta(seconds=60),
                released_at=now)
    Hold.create(call_uuid="lapsed", tenant=tenant, amount_fen=50, expires_at=now - timedelta(seconds=1))

    status_body = Client(metrics.metrics_app()).get("/metrics")
    found = scrape_samples(status_body.get_data(as_text=True))
    assert found[("fsapp_holds_active", ())] == 2
    assert found[("fsapp_holds_fen", ())] == 420
    assert found[("fsapp_holds_lapsed", ())] == 1


def test_holds_are_cached_for_the_ttl(db):
    clock = [100.0]
    collector = metrics.HoldsCollector(ttl=5, clock=lambda: clock[0])
    tenant = make_tenant()
    assert collector.values() == (0, 0, 0)
    Hold.create(call_uuid="c1", tenant=tenant, amount_fen=60, expires_at=utcnow() + timedelta(minutes=1))
    clock[0] += 4.9
    assert collector.values() == (0, 0, 0)  # still the cached answer
    clock[0] += 0.2
    assert collector.values() == (1, 60, 0)


def test_holds_collector_survives_a_database_outage():
    previous = models.database.obj
    models.database.initialize(PostgresqlDatabase("nowhere", host="127.0.0.1", port=1, connect_timeout=1))
    try:
        errors = sample("fsapp_db_errors_total", operation="metrics")
        collector = metrics.HoldsCollector(ttl=0)
        assert list(collector.collect()) == []
        assert sample("fsapp_db_errors_total", operation="metrics") == errors + 1
    finally:
        models.database.initialize(previous)


# --- the HTTP endpoints --------------------------------------------------------------------------

def test_healthz_metrics_and_readyz_over_http(db, http, fresh_holds):
    listening = {"up": True}
    get = http(metrics.metrics_app({"event_socket": lambda: listening["up"]}))

    status, body, _ = get("/healthz")
    assert (status, body) == (200, "ok\n")

    metrics.esl_error("disconnect")
    status, body, headers = get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    found = scrape_samples(body)
    assert found[("fsapp_esl_errors_total", (("kind", "disconnect"),))] >= 1
    assert ("fsapp_holds_active", ()) in found

    status, body, _ = get("/readyz")
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"database": "ok", "event_socket": "ok"}}

    listening["up"] = False
    status, body, headers = get("/readyz")
    assert status == 503 and headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["failed"] == ["event_socket"]
    assert document["checks"] == {"database": "ok", "event_socket": "not ready"}

    assert get("/nothing")[0] == 404
    assert get("/healthz", method="POST")[0] == 405
    status, body, _ = get("/healthz", method="HEAD")
    assert (status, body) == (200, "")


def test_readyz_names_an_unreachable_database():
    previous = models.database.obj
    models.database.initialize(PostgresqlDatabase("nowhere", host="127.0.0.1", port=1, connect_timeout=1))
    try:
        response = Client(metrics.metrics_app({"event_socket": lambda: True})).get("/readyz")
    finally:
        models.database.initialize(previous)
    assert response.status_code == 503
    document = response.get_json()
    assert document["failed"] == ["database"]
    assert document["checks"]["database"].startswith("OperationalError")
    assert document["checks"]["event_socket"] == "ok"


def test_readyz_bounds_a_hanging_check(db):
    def hangs():
        gevent.sleep(10)
        return True

    response = Client(metrics.metrics_app({"event_socket": hangs}, timeout=0.2)).get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["event_socket"] == "TimeoutError: no answer within 0.2 s"


def test_mounted_next_to_the_admin(db, http, fresh_holds):
    def admin(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"admin saw {environ['PATH_INFO']}".encode()]

    get = http(metrics.mount(admin, {"event_socket": lambda: True}))
    assert get("/calls/1")[:2] == (200, "admin saw /calls/1")
    assert get("/healthz")[:2] == (200, "ok\n")
    assert get("/readyz")[0] == 200
    assert "fsapp_admission_decisions_total" in get("/metrics")[1]


# --- several processes ---------------------------------------------------------------------------

WORKER = """
from fs_app import metrics
metrics.observe_admission("blocked", ["DNC"], 0.002)
metrics.charge(60)
metrics.set_live_calls({live})
"""


def test_multiprocess_mode_aggregates_every_process(tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, whichever process answers a scrape reports all of them."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    workers = [subprocess.Popen([sys.executable, "-c", WORKER.format(live=n)], cwd=REPO, env=env)
               for n in (2, 3)]
    for worker in workers:
        assert worker.wait(timeout=60) == 0
    scrape = ("from fs_app import metrics\n"
              "import sys\n"
              "for pid in sys.argv[1:]:\n"
              "    metrics.mark_process_dead(int(pid))\n"
              "sys.stdout.write(metrics.render()[0].decode())\n")

    def scrape_with_dead(*pids) -> dict:
        output = subprocess.run([sys.executable, "-c", scrape, *map(str, pids)], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60, check=True).stdout
        return scrape_samples(output)

    found = scrape_with_dead()
    assert found[("fsapp_admissions_total", (("reason", "DNC"), ("result", "blocked")))] == 2
    assert found[("fsapp_charges_fen_total", ())] == 120
    assert found[("fsapp_admission_seconds_count", ())] == 2
    assert found[("fsapp_live_calls", ())] == 5  # "livesum": the sum over processes not marked dead
    # a supervisor marks exited workers dead: their live calls stop counting, their counters stay
    found = scrape_with_dead(workers[0].pid)
    assert found[("fsapp_live_calls", ())] == 3
    assert found[("fsapp_charges_fen_total", ())] == 120
