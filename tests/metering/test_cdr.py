"""Reconciliation with FreeSWITCH JSON CDRs: the real files of fs-transcripts/cdr and generated
ones; a crash is recovered, nothing is charged twice, bad files are reported and skipped."""
import json
import os
import shutil
import uuid
from datetime import datetime, timedelta

import pytest

from fs_app import cdr
from fs_app.metering import event_time
from models import CallRecord, Hold, LedgerEntry, NumberLease
from models.calls import billing
from models.seats import number_leases
from models.calls.billing import charge_call
from domain.clock import utcnow

from fake_switch.cdrs import REAL_CDRS, callee_leg, write
from .conftest import LEASED, admit, assert_ledger_sound, call_entries, fresh, make_tenant

A_LEG = "556513ed-c4aa-48cc-869f-be3a8a2feabd"  # 02a agent leg
B_LEG = "e3b3d28a-b288-46aa-baa9-27aac8df7126"  # 02a callee leg: answered, billsec 5 (5039 ms)
BUSY_LEG = "6e3e7f84-39e8-424f-aaeb-23a5e204f2a7"  # 03 busy originate, fsapp_parent, our caller ID
BUSY_PARENT = "cec67575-4f6d-46f6-a3e3-bd4a940613d7"
CALL_TIME = datetime(2026, 11, 23, 18, 27, 28)


@pytest.fixture
def leased(db):
    tenant = make_tenant("acme", rate=12, balance=1_000)
    number_leases.lease_number("acme", LEASED)
    # the lease existed when the transcripts were recorded
    NumberLease.update(leased_at=datetime(2026, 1, 1)).where(NumberLease.number == LEASED).execute()
    return tenant


@pytest.fixture
def real_dir(tmp_path):
    target = tmp_path / "cdr"
    shutil.copytree(REAL_CDRS, target)
    os.chmod(target, 0o755)
    for path in target.iterdir():
        os.chmod(path, 0o644)
    return target


def test_the_real_cdrs_parse(db):
    legs = {leg.uuid: leg for leg in (cdr.read_cdr_file(p) for p in sorted(REAL_CDRS.iterdir()))}
    callee = legs[B_LEG]
    assert (callee.direction, callee.parent_uuid, callee.role, callee.billsec) == ("outbound", A_LEG, "callee", 5)
    assert callee.caller_number == LEASED and callee.destination == "2002"
    assert callee.answered_at == datetime(2026, 11, 23, 18, 27, 28, 97011)
    assert callee.ended_at == datetime(2026, 11, 23, 18, 27, 33, 136995)
    busy = legs[BUSY_LEG]
    assert (busy.billsec, busy.answered_at, busy.hangup_cause, busy.parent_uuid) == (0, None, "USER_BUSY", BUSY_PARENT)
    assert legs[A_LEG].direction == "inbound"


def test_a_crash_mid_call_is_recovered_from_the_real_cdrs(leased, real_dir):
    # admission ran, the call was answered, then the app died: no hangup report, no charge
    record, hold = admit(leased, hold_fen=12, agent_uuid=A_LEG, callee_uuid=B_LEG, callee="+8613800138000",
                         at=CALL_TIME)
    report = cdr.ingest([real_dir])
    assert (report.files, report.legs, report.charged, report.charged_fen) == (6, 6, 1, 12)
    assert report.agent_legs == 1  # the 02a agent leg: known, not billed
    # transcript 03: the busy originate presented our caller ID (free, recorded); the no-answer
    # leg was made by the bridge app, not by our originate: never billed on its own
    assert report.free == 1 and report.records_created == 1
    # transcript 01: not a tenant's call (its A-leg), a bridge-app leg (its B-leg); 03's bridge leg
    assert len(report.unmatched) == 3 and report.bad == []
    record = fresh(record)
    assert (record.charged, record.billsec, record.cdr_billsec, record.charge_fen, record.result) == (
        True, 5, 5, 12, "completed")
    assert record.answered_at == datetime(2026, 11, 23, 18, 27, 28, 97011)
    assert fresh(hold).amount_fen == 0
    busy = CallRecord.get(CallRecord.callee_uuid == BUSY_LEG)
    assert (busy.tenant_id, busy.agent_uuid, busy.result, busy.charge_fen, busy.caller_number) == (
        leased.id, BUSY_PARENT, "busy", 0, LEASED)
    assert fresh(leased).balance_fen == 1_000 - 12
    assert_ledger_sound(leased)

    again = cdr.ingest([real_dir])
    assert (again.charged, again.confirmed, again.records_created, again.mismatches) == (0, 2, 0, 0)
    assert fresh(leased).balance_fen == 1_000 - 12
    assert LedgerEntry.select().where(LedgerEntry.kind == "call").count() == 1


def test_the_tenant_is_found_by_the_leased_caller_id_when_the_app_wrote_nothing(leased, real_dir):
    report = cdr.ingest([real_dir / "02a-uuid_bridge-B-leg.cdr.json"])
    assert (report.charged, report.records_created) == (1, 1)
    record = CallRecord.get(CallRecord.callee_uuid == B_LEG)
    assert (record.tenant_id, record.agent_uuid, record.direction, record.charge_fen) == (leased.id, A_LEG,
                                                                                           "outbound", 12)


def test_a_number_leased_after_the_call_does_not_make_it_ours(leased, real_dir):
    NumberLease.update(leased_at=datetime(2026, 11, 23, 18, 30)).execute()
    report = cdr.ingest([real_dir / "02a-uuid_bridge-B-leg.cdr.json"])
    assert report.charged == 0 and len(report.unmatched) == 1 and CallRecord.select().count() == 0


def test_app_then_cdr_and_cdr_then_app_charge_once(leased, tmp_path):
    t0 = 1_795_400_000_000_000
    first, _ = admit(leased, hold_fen=12)
    second, _ = admit(leased, hold_fen=12)
    documents = {
        r.callee_uuid: callee_leg(r.callee_uuid, parent=r.agent_uuid, caller=LEASED, destination="13800138000",
                                  start_us=t0, answer_us=t0 + 2_000_000, end_us=t0 + 2_000_000 + 65_400_000)
        for r in (first, second)}
    answered, ended = event_time(t0 + 2_000_000), event_time(t0 + 67_400_000)
    # app first (it measured 59 s, the CDR 65 s: a mismatch), then the CDR
    charge_call(first.callee_uuid, source="app", agent_uuid=first.agent_uuid, answered_at=answered,
                ended_at=answered + timedelta(seconds=59))
    report = cdr.ingest([write(tmp_path, documents[first.callee_uuid])])
    assert (report.charged, report.confirmed, report.mismatches) == (0, 1, 1)
    # CDR first, then the app
    report = cdr.ingest([write(tmp_path, documents[second.callee_uuid])])
    assert (report.charged, report.charged_fen) == (1, 24)
    late_app = charge_call(second.callee_uuid, source="app", agent_uuid=second.agent_uuid, answered_at=answered,
                           ended_at=ended)
    assert late_app.duplicate and not late_app.mismatch
    assert [len(call_entries(r.callee_uuid)) for r in (first, second)] == [1, 1]
    assert fresh(first).cdr_mismatch and not fresh(second).cdr_mismatch
    assert fresh(first).cdr_billsec == 65
    assert_ledger_sound(leased)


def test_generated_cdrs_of_many_calls(leased, tmp_path):
    t0 = 1_795_400_000_000_000
    paths, expected = [], 0
    for i in range(40):
        record, _ = admit(leased, hold_fen=12)
        talk = (i * 7) % 130  # 0 = unanswered
        answer = t0 + 1_000_000 if talk else 0
        document = callee_leg(record.callee_uuid, parent=record.agent_uuid, caller=LEASED,
                              destination="13800138000", start_us=t0, answer_us=answer,
                              end_us=t0 + 1_000_000 + talk * 1_000_000,
                              hangup_cause="NORMAL_CLEARING" if talk else "NO_ANSWER")
        paths.append(write(tmp_path, document))
        expected += -(-talk // 60) * 12
    report = cdr.ingest([tmp_path])
    assert report.charged_fen == expected and report.bad == []
    assert fresh(leased).balance_fen == 1_000 - expected
    assert cdr.ingest([tmp_path]).charged == 0
    assert_ledger_sound(leased)


def test_bad_files_are_reported_and_skipped(leased, tmp_path, real_dir):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "truncated.cdr.json").write_text('{"variables": {"uuid": "x"')
    (tmp_path / "bad" / "list.cdr.json").write_text("[1, 2]")
    (tmp_path / "bad" / "novars.cdr.json").write_text('{"core-uuid": "x"}')
    no_uuid = json.loads((real_dir / "02a-uuid_bridge-B-leg.cdr.json").read_text())
    del no_uuid["variables"]["uuid"]
    (tmp_path / "bad" / "nouuid.cdr.json").write_text(json.dumps(no_uuid))
    shutil.copy(real_dir / "02a-uuid_bridge-B-leg.cdr.json", tmp_path / "bad")
    report = cdr.ingest([tmp_path / "bad"])
    assert sorted(os.path.basename(p) for p, _ in report.bad) == [
        "list.cdr.json", "nouuid.cdr.json", "novars.cdr.json", "truncated.cdr.json"]
    assert report.charged == 1  # the good file beside them
    assert fresh(leased).balance_fen == 1_000 - 12


def test_a_leg_failing_half_way_leaves_nothing_behind(leased, tmp_path, monkeypatch):
    t0 = 1_795_400_000_000_000
    good, bad = str(uuid.uuid4()), str(uuid.uuid4())
    for leg in (good, bad):
        write(tmp_path, callee_leg(leg, parent=str(uuid.uuid4()), caller=LEASED, destination="13800138000",
                                   start_us=t0, answer_us=t0, end_us=t0 + 30_000_000))
    real_post = billing._post_locked

    def failing_post(tenant, kind, amount_fen, promo_fen, key, call_uuid, *args):
        if call_uuid == bad:
            raise ValueError("disk on fire")  # after the call record was created in this savepoint
        return real_post(tenant, kind, amount_fen, promo_fen, key, call_uuid, *args)

    monkeypatch.setattr(billing, "_post_locked", failing_post)
    report = cdr.ingest([tmp_path])
    assert [os.path.basename(p) for p, _ in report.bad] == [f"{bad}.cdr.json"]
    assert report.charged == 1
    assert CallRecord.get_or_none(CallRecord.callee_uuid == bad) is None
    assert CallRecord.get(CallRecord.callee_uuid == good).charged
    assert_ledger_sound(leased)


def test_inbound_calls_to_a_leased_number_are_charged_at_the_inbound_rate(db, tmp_path):
    tenant = make_tenant("inb", rate=12, inbound_rate=5, balance=100)
    number_leases.lease_number("inb", LEASED)
    NumberLease.update(leased_at=datetime(2026, 1, 1)).execute()
    template = json.loads((REAL_CDRS / "02a-uuid_bridge-A-leg.cdr.json").read_text())
    template["variables"]["uuid"] = "inbound-1"
    template["callflow"][0]["caller_profile"]["destination_number"] = LEASED
    (tmp_path / "in.cdr.json").write_text(json.dumps(template))
    report = cdr.ingest([tmp_path])
    assert report.charged_fen == 5
    record = CallRecord.get(CallRecord.callee_uuid == "inbound-1")
    assert (record.direction, record.tenant_id, record.billsec) == ("inbound", tenant.id, 5)


def test_cli_ingest(cli, leased, real_dir, tmp_path):
    admit(leased, hold_fen=12, agent_uuid=A_LEG, callee_uuid=B_LEG, at=CALL_TIME)
    result = cli("cdr", "ingest", str(real_dir))
    assert result.code == 0, result
    assert "1 charged (12 fen)" in result.out and "3 unmatched" in result.out
    (tmp_path / "junk.cdr.json").write_text("not json")
    result = cli("cdr", "ingest", str(real_dir), str(tmp_path / "junk.cdr.json"), "--json")
    assert result.code == 1 and "junk.cdr.json" in result.err
    document = json.loads(result.out)
    assert document["charged"] == 0 and document["confirmed"] == 2 and len(document["bad"]) == 1
    assert cli("cdr", "ingest", str(tmp_path / "missing")).code == 2
    assert cli("ledger", "verify").code == 0


def test_the_job_moves_handled_files_out_of_the_way(leased, real_dir):
    (real_dir / "junk.cdr.json").write_text("{")
    fresh_file = real_dir / "being-written.cdr.json"
    fresh_file.write_text("{")
    now = fresh_file.stat().st_mtime  # the job runs just as the fresh file is written, however slow the test
    old = now - 60
    for path in real_dir.iterdir():
        if path != fresh_file:
            os.utime(path, (old, old))
    report = cdr.ingest_directory(real_dir, now=now)
    assert report.charged == 1 and len(report.bad) == 1
    assert sorted(p.name for p in (real_dir / "processed").iterdir()) == sorted(
        p.name for p in REAL_CDRS.iterdir())
    assert [p.name for p in (real_dir / "bad").iterdir()] == ["junk.cdr.json"]
    assert fresh_file.exists()  # too young: it may still be being written
    assert cdr.ingest_directory(real_dir, now=now).files == 0
    assert Hold.select().count() == 0 and utcnow()
