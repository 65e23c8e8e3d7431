"""`fsapp serve --workers 1 --web-process`: one call worker takes the Event Socket, one web worker
the HTTP port (admin, /healthz, /readyz, /metrics); a killed web worker is restarted while a call
completes in the call worker; SIGTERM drains the calls, then stops the web worker
(docs/scaling.md, docs/operations.md)."""
from __future__ import annotations

import io
import os
import re
import signal
import subprocess

import gevent
import pytest
from gevent.event import Event

import models
from fake_switch import FakeFreeSwitch
from fake_switch.serve_process import FSAPP, ServeProcess
from fs_app.admin_queue import AdminQueue
from fs_app.call_workers import CallWorkersStatus
from fs_app.cli import main as fsapp_main
from models.calls.tables import CallRecord
from tests.ops.test_workers import BLOCKED_TOTAL, get, refuses_to_connect

WEB_SERVING = re.compile(r"fsapp web worker serving: admin http://\S+ \(node (?P<node>\S+)\)")


def call_records(data_dir) -> list[CallRecord]:
    models.open_database("", data_dir)
    try:
        return list(CallRecord.select())
    finally:
        models.database.close()


def place_blocked_call(fake: FakeFreeSwitch):
    """A call from an unknown seat: the call worker refuses it, plays the prompt and hangs up."""
    return fake.place_call("13800138000", caller="9999", sip_auth_username="9999", sip_auth_realm="nowhere.example",
                           variables={"fsapp_direction": "outbound"}, wait_connected=False)


def pid_of(node: str) -> int:
    return int(node.rpartition(":")[2])


@pytest.fixture
def env(tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path)}
    for name in ("FSAPP_DATABASE_URL", "FSAPP_NODE_NAME", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    subprocess.run([FSAPP, "init"], env=env, check=True, capture_output=True)
    return env


@pytest.mark.slow
def test_the_web_worker_serves_http_the_call_worker_calls_and_a_killed_web_worker_comes_back(env, tmp_path):
    serve = ServeProcess(env, "--workers", "1", "--web-process").wait_serving(workers=1)
    fake = None
    try:
        web_match, _ = serve.wait_for(WEB_SERVING)
        web_pid, call_pid = pid_of(web_match["node"]), pid_of(serve.nodes[1])
        assert len({web_pid, call_pid, serve.pid}) == 3

        base = f"http://127.0.0.1:{serve.http_port}"
        assert get(base + "/healthz") == (200, "ok\n")
        status, body = get(base + "/login")
        assert status == 200 and "<form" in body
        status, body = get(base + "/readyz")
        assert status == 200 and '"call_workers": "ok"' in body, body

        # the call worker takes the call; the web worker's /metrics counts it
        fake = FakeFreeSwitch("127.0.0.1", serve.esl_port, time_scale=0.01)
        assert place_blocked_call(fake).wait_ended(30)
        assert [record.node for record in call_records(tmp_path)] == [serve.nodes[1]]
        assert float(BLOCKED_TOTAL.search(get(base + "/metrics")[1])[1]) == 1

        # the web worker dies while a call is being decided and prompted: the call completes in
        # the call worker, which is not restarted, and a new web worker answers the port
        lines_before = len(serve.lines)
        fake.close()
        fake = FakeFreeSwitch("127.0.0.1", serve.esl_port, time_scale=1.0)  # prompts play at full length
        call = place_blocked_call(fake)
        assert call.wait_for("a-leg:execute:playback", 30)
        os.kill(web_pid, signal.SIGKILL)
        assert not call.a_leg.hangup_started  # the prompt (seconds long) still plays
        assert call.wait_ended(30)
        serve.wait_for(rf"web worker \(pid {web_pid}\) ended unexpectedly \(killed by SIGKILL\)", after=lines_before)
        replacement, _ = serve.wait_for(WEB_SERVING, after=lines_before)
        assert pid_of(replacement["node"]) not in (web_pid, call_pid)
        assert [record.node for record in call_records(tmp_path)] == [serve.nodes[1]] * 2
        assert get(base + "/healthz") == (200, "ok\n")
        assert float(BLOCKED_TOTAL.search(get(base + "/metrics")[1])[1]) == 2
        os.kill(call_pid, 0)  # still the first call worker
    finally:
        if fake is not None:
            fake.close()
        code, output = serve.stop(signal.SIGTERM)
    assert code == 0, output
    # the calls drain first, then the web worker stops
    assert output.index("drained: all calls finished") < output.index("fsapp stopped (web worker)"), output
    assert "fsapp stopped (all 1 workers)" in output
    assert refuses_to_connect(serve.esl_port) and refuses_to_connect(serve.http_port)


def test_web_process_is_refused_with_a_clear_line_when_no_process_is_left_for_it(env):
    err = io.StringIO()
    code = fsapp_main(["serve", "--workers", "64", "--web-process"], out=io.StringIO(), err=err)
    assert code == 2
    assert err.getvalue() == ("fsapp: --web-process adds a process to the call workers: "
                              "use --workers 63 at most with it (got 64)\n")


def test_the_web_workers_readiness_follows_the_supervisors_count_of_call_workers(tmp_path):
    status = CallWorkersStatus(str(tmp_path / "call-workers.json"))
    status.write(running=2, of=2, stopping=False)
    assert status.ready() == "ok"
    status.write(running=1, of=2, stopping=False)  # one restarting: the other takes the calls
    assert status.ready() == "ok"
    status.write(running=0, of=2, stopping=False)
    with pytest.raises(RuntimeError, match=r"no call worker running \(0 of 2\)"):
        status.ready()
    status.write(running=2, of=2, stopping=True)
    with pytest.raises(RuntimeError, match="draining"):
        status.ready()
    status.remove()
    with pytest.raises(FileNotFoundError):  # /readyz then names the check and the missing file
        status.ready()


def test_admin_requests_take_turns_two_at_a_time_first_come_first_served():
    release, started = Event(), []

    def admin(environ, start_response):
        started.append(environ["PATH_INFO"])
        release.wait()
        start_response("200 OK", [])
        return [b"page"]

    queue = AdminQueue(admin, at_once=2)
    requests = [gevent.spawn(queue, {"PATH_INFO": f"/page{i}"}, lambda *a: None) for i in range(5)]
    gevent.sleep(0)  # every request reached the queue
    assert started == ["/page0", "/page1"]
    release.set()
    gevent.joinall(requests, timeout=10, raise_error=True)
    assert started == [f"/page{i}" for i in range(5)]
    assert all(request.value == [b"page"] for request in requests)
