"""Two nodes against one PostgreSQL: node A runs `fsapp serve --workers 2` (two processes on one
port), node B a single `fsapp serve` on its own port, each with its FreeSWITCH (a fake). A burst
of calls from both nodes never exceeds a limit together, whichever process takes which leg
(docs/scaling.md)."""
from __future__ import annotations

import os
import subprocess
from datetime import timedelta

import pytest

from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow
from models.tenancy.tables import Tenant
from fake_switch import FakeFreeSwitch, LegScript, Press
from fake_switch.serve_process import FSAPP, ServeProcess

DOMAIN = "acme.example"
SEATS = ("1001", "1002")
CALLEES = ("13800138000", "13800138001")
LIMIT_REASONS = {"SEAT_BUSY", "SEAT_LIMIT", "NUMBER_BUSY", "INSUFFICIENT_BALANCE", "FREQUENCY_LIMIT"}


def provision() -> Tenant:
    """Limits that one call uses up: one local number carrying one call, money for one increment."""
    tenants.add_tenant("acme", name="Acme", display_name="Acme", hotline="4001234567", seats=2, rate=10)
    tenants.set_tenant("acme", status="active")
    topups.topup("acme", 10)
    number_leases.lease_number("acme", "+861061234567", max_calls=1)
    campaigns.add_campaign("acme", "spring", script="您好，这里是春季回访。")
    campaigns.review_campaign("acme", "spring", approve=True, actor="operator")
    for user in SEATS:
        seats.add_seat("acme", f"{user}@{DOMAIN}", campaign="spring")
    for callee in CALLEES:
        list_entries.add_consent("acme", callee, source="web form", obtained_at=utcnow() - timedelta(days=1))
    return Tenant.get(Tenant.code == "acme")


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_limits_hold_across_two_workers_on_one_port_and_two_nodes(wall_clock, db, request, tmp_path):
    url = request.getfixturevalue("pg_url")
    tenant = provision()
    servers = []
    for node, workers in (("node-a", 2), ("node-b", 1)):
        env = {**os.environ, "FSAPP_DATABASE_URL": url, "FSAPP_DATA_DIR": str(tmp_path / node),
               "FSAPP_PROMPT_DIR": str(tmp_path / "prompts"), "FSAPP_NODE_NAME": node,
               "FSAPP_CALLING_WINDOWS": "00:00-24:00", "FSAPP_RECORDING_CONSENT_TIMEOUT_S": "1",
               "FSAPP_ESL_COMMAND_TIMEOUT_S": "5"}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        servers.append(ServeProcess(env, "--workers", str(workers)))
    for server, workers in zip(servers, (2, 1)):
        server.wait_serving(workers=workers if workers > 1 else 0)
    nodes = [FakeFreeSwitch("127.0.0.1", server.esl_port, time_scale=0.01) for server in servers]
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
        stopped = [server.stop() for server in servers]
    outputs = [output for _, output in stopped]
    assert all(code == 0 for code, _ in stopped), outputs

    records = list(CallRecord.select().where(CallRecord.direction == "outbound"))
    assert len(records) == 16
    # node A's workers are node-a:<pid> (their own names in holds); node B keeps its name
    assert {r.node.partition(":")[0] for r in records} == {"node-a", "node-b"}
    assert {r.node for r in records} <= set(servers[0].nodes.values()) | {"node-b"}
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
