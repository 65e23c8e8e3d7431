"""Two app processes sharing one port (SO_REUSEPORT), two FreeSWITCH nodes (fakes), one
PostgreSQL: a burst of calls from both nodes never exceeds a limit together, whichever process
takes which leg (docs/scaling.md)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from models import listing, provisioning
from models.calls import CallRecord, Hold
from models.clock import utcnow
from models.tenancy import Tenant
from fs_app.testing import FakeFreeSwitch, LegScript, Press

FSAPP = str(Path(sys.executable).parent / "fsapp")
DOMAIN = "acme.example"
SEATS = ("1001", "1002")
CALLEES = ("13800138000", "13800138001")
LIMIT_REASONS = {"SEAT_BUSY", "SEAT_LIMIT", "NUMBER_BUSY", "INSUFFICIENT_BALANCE", "FREQUENCY_LIMIT"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, deadline_s: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"app on http port {port} never became ready")


def provision() -> Tenant:
    """Limits that one call uses up: one local number carrying one call, money for one increment."""
    provisioning.add_tenant("acme", name="Acme", display_name="Acme", hotline="4001234567", seats=2, rate=10)
    provisioning.set_tenant("acme", status="active")
    provisioning.topup("acme", 10)
    provisioning.lease_number("acme", "+861061234567", max_calls=1)
    provisioning.add_campaign("acme", "spring", script="您好，这里是春季回访。")
    provisioning.review_campaign("acme", "spring", approve=True, actor="operator")
    for user in SEATS:
        provisioning.add_seat("acme", f"{user}@{DOMAIN}", campaign="spring")
    for callee in CALLEES:
        listing.add_consent("acme", callee, source="web form", obtained_at=utcnow() - timedelta(days=1))
    return Tenant.get(Tenant.code == "acme")


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_limits_hold_across_two_processes_on_one_port_and_two_nodes(wall_clock, db, request, tmp_path):
    url = request.getfixturevalue("pg_url")
    tenant = provision()
    esl_port = free_port()
    processes = []
    for node in ("node-a", "node-b"):
        http_port = free_port()
        env = {**os.environ, "FSAPP_DATABASE_URL": url, "FSAPP_DATA_DIR": str(tmp_path / node),
               "FSAPP_PROMPT_DIR": str(tmp_path / "prompts"), "FSAPP_NODE_NAME": node,
               "FSAPP_CALLING_WINDOWS": "00:00-24:00", "FSAPP_RECORDING_CONSENT_TIMEOUT_S": "1",
               "FSAPP_ESL_COMMAND_TIMEOUT_S": "5"}
        process = subprocess.Popen([FSAPP, "serve", "--esl", f"127.0.0.1:{esl_port}", "--http",
                                    f"127.0.0.1:{http_port}"], env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        processes.append(process)
        wait_ready(http_port)
    nodes = [FakeFreeSwitch("127.0.0.1", esl_port, time_scale=0.01) for _ in range(2)]
    for node in nodes:
        # the one-minute limit the money allows is 0.6 s at this scale: it must not cut the
        # admitted call before a busy machine has prompted and bridged it
        node.hold_scheduler()
    try:
        # an admitted call talks 0.3 s once the agent heard the recording notice (bridged)
        talk = LegScript(presses=[Press("2")], hangup_after=30, hangup_relative_to="a-leg:broadcast")
        scripts = {f"+86{c}": talk for c in CALLEES}
        calls = []
        for round_ in range(4):  # 16 calls from both nodes, every seat to every callee, at once
            for node in nodes:
                for user in SEATS:
                    callee = CALLEES[(round_ + SEATS.index(user)) % 2]
                    calls.append(node.place_call(callee, caller=user, sip_auth_username=user,
                                                 sip_auth_realm=DOMAIN, callee_scripts=scripts,
                                                 variables={"fsapp_direction": "outbound"},
                                                 wait_connected=False))
        assert all(call.wait_ended(30) for call in calls)
    finally:
        for node in nodes:
            node.close()
        outputs = []
        for process in processes:
            process.send_signal(signal.SIGTERM)
            outputs.append(process.communicate(timeout=30)[0])
    assert all(p.returncode == 0 for p in processes), outputs

    records = list(CallRecord.select().where(CallRecord.direction == "outbound"))
    assert len(records) == 16
    assert {r.node for r in records} == {"node-a", "node-b"}  # the kernel spread the legs over both
    allowed = [r for r in records if r.decision == "allowed"]
    assert len(allowed) == 1, [(r.node, r.result, r.hangup_cause, r.prompts, r.created_at, r.ended_at)
                               for r in allowed] + outputs
    for record in records:
        if record.decision == "blocked":
            assert set(record.reasons) & LIMIT_REASONS, record.reasons
    (call,) = allowed
    assert call.result == "completed" and call.charged and call.charge_fen == 10, (call.hangup_cause, call.prompts, outputs)
    assert Tenant.get_by_id(tenant.id).balance_fen == 0
    assert not Hold.select().where(Hold.released_at.is_null()).exists()
    verify = subprocess.run([FSAPP, "ledger", "verify"], env={**os.environ, "FSAPP_DATABASE_URL": url,
                                                              "FSAPP_DATA_DIR": str(tmp_path)},
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
