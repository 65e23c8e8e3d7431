"""`fsapp serve --workers 2`: two worker processes of one install take Event Socket connections on
the one port their supervisor bound; /metrics adds both up whichever answers; a worker that dies
is restarted; SIGTERM drains every worker and the supervisor exits 0 (docs/scaling.md)."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import urllib.request

import pytest

import models
from models.calls.tables import CallRecord
from fake_switch import FakeFreeSwitch
from fake_switch.serve_process import FSAPP, ServeProcess

ROUNDS = 10  # rounds of CALLS_PER_ROUND concurrent calls at most, until both workers took some
CALLS_PER_ROUND = 6
BLOCKED_TOTAL = re.compile(r'^fsapp_admission_decisions_total\{result="blocked"\} (\S+)$', re.M)
LIVE_CALLS = re.compile(r"^fsapp_live_calls (\S+)$", re.M)


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def refuses_to_connect(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def place_calls(esl_port: int, count: int) -> None:
    """Calls from an unknown seat, all at once: each is admitted (blocked) and hung up by the app."""
    fake = FakeFreeSwitch("127.0.0.1", esl_port, time_scale=0.01)
    try:
        calls = [fake.place_call("13800138000", caller="9999", sip_auth_username="9999",
                                 sip_auth_realm="nowhere.example", variables={"fsapp_direction": "outbound"},
                                 wait_connected=False) for _ in range(count)]
        assert all(call.wait_ended(30) for call in calls)
    finally:
        fake.close()


def nodes_that_answered(data_dir) -> list[str]:
    models.open_database("", data_dir)
    try:
        return [record.node for record in CallRecord.select(CallRecord.node)]
    finally:
        models.database.close()


@pytest.mark.slow
def test_two_workers_share_the_port_restart_when_killed_and_drain_on_sigterm(tmp_path):
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path)}
    for name in ("FSAPP_DATABASE_URL", "FSAPP_NODE_NAME", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)
    subprocess.run([FSAPP, "init"], env=env, check=True, capture_output=True)
    serve = ServeProcess(env, "--workers", "2").wait_serving(workers=2)
    try:
        worker_nodes = set(serve.nodes.values())
        assert len(worker_nodes) == 2  # hostname:pid each
        worker_pids = {int(node.rpartition(":")[2]) for node in worker_nodes}
        assert serve.pid not in worker_pids

        # both workers accept on the one port: the call records name the process that took each call
        placed = 0
        for _ in range(ROUNDS):
            place_calls(serve.esl_port, CALLS_PER_ROUND)
            placed += CALLS_PER_ROUND
            if set(nodes_that_answered(tmp_path)) == worker_nodes:
                break
        answered = nodes_that_answered(tmp_path)
        assert set(answered) == worker_nodes, answered
        assert len(answered) == placed

        # whichever worker answers the scrape, it counts every worker's admissions
        base = f"http://127.0.0.1:{serve.http_port}"
        for _ in range(4):
            status, body = get(base + "/metrics")
            assert status == 200 and float(BLOCKED_TOTAL.search(body)[1]) == placed, body
            assert float(LIVE_CALLS.search(body)[1]) == 0
        assert get(base + "/readyz")[0] == 200

        # a worker killed outright is replaced by a new process; the counts survive it
        lines_before = len(serve.lines)
        victim = sorted(worker_pids)[0]
        os.kill(victim, signal.SIGKILL)
        serve.wait_for(rf"worker \d \(pid {victim}\) ended unexpectedly \(killed by SIGKILL\)", after=lines_before)
        match, _ = serve.wait_for(r"fsapp serving: .*\(node (\S+), worker \d of 2\)", after=lines_before)
        replacement = int(match[1].rpartition(":")[2])
        assert replacement not in worker_pids | {serve.pid}
        assert float(BLOCKED_TOTAL.search(get(base + "/metrics")[1])[1]) == placed
    finally:
        code, output = serve.stop(signal.SIGTERM)
    assert code == 0, output
    assert output.count("drained: all calls finished") >= 2, output
    assert "fsapp stopped (all 2 workers)" in output
    assert refuses_to_connect(serve.esl_port) and refuses_to_connect(serve.http_port)
    for pid in worker_pids | {replacement}:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
