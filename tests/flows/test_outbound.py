"""The outbound call end to end: agent leg + callee leg through the fake FreeSWITCH."""
from __future__ import annotations

import pytest

from models.attempts import Attempt
from models.calls import CallRecord, Hold
from models.lists import Consent, DoNotCall
from models.money import LedgerEntry
from models.tenancy import Tenant
from fs_app.testing import LegScript, Press

from .conftest import (CALLEE, make_tenant, names, place_agent_call, played, today)


#: a callee who talks 0.5 s (time_scale 0.01) once the agent heard whether the call is recorded
#: (the callee leg's last step: a uuid_broadcast to the agent right after the bridge)
TALKS = dict(hangup_after=50, hangup_relative_to="a-leg:broadcast")


def finished(call, timeout=10):
    assert call.wait_ended(timeout), [leg.hangup_cause for leg in call.legs]
    return call


def record_of(call) -> CallRecord:
    return CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)


def call_entries(callee_uuid):
    return list(LedgerEntry.select().where(LedgerEntry.idempotency_key == f"call:{callee_uuid}"))


def assert_released(call):
    hold = Hold.get(Hold.call_uuid == call.a_leg.uuid)
    assert hold.released_at is not None and hold.amount_fen == 0


def test_consent_1_records_bridges_and_charges_once(db, make_settings, telephony, clock):
    tenant = make_tenant()
    fake = telephony.start(make_settings())
    clock.freeze()  # the call's times (FreeSWITCH's and the app's) move only as the test says
    call = place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("1")])})
    assert call.wait_for("a-leg:broadcast")  # bridged, and the agent heard it is recorded
    clock.advance(0.5)  # half a second of talk after the answer
    call.callee_legs[0].hangup()  # the callee hangs up
    finished(call)
    a_leg, (b_leg,) = call.a_leg, call.callee_legs
    record = record_of(call)
    assert record.callee_uuid == b_leg.uuid and b_leg.variable("fsapp_parent") == a_leg.uuid
    assert "'&socket(127.0.0.1:" in next(c for c in a_leg.commands if c.startswith("bgapi originate"))
    assert names(played(b_leg)) == ["disclosure", "consent_request", "connecting"]
    assert names(a_leg.broadcasts) == ["agent_recorded"] and names(played(a_leg)) == ["tone"]
    expected_path = f"acme/{today()}/{b_leg.uuid}.wav"
    assert [r["path"] for r in b_leg.recordings] == [record.recording_path]
    assert record.recording_path.endswith(expected_path)
    assert record.recording_digit == "1" and record.recording_consent_at is not None
    assert record.prompts == ["disclosure", "consent_request", "connecting", "agent_recorded"]
    assert (record.result, record.hangup_cause, record.charged) == ("completed", "NORMAL_CLEARING", True)
    assert record.answered_at is not None and record.ended_at > record.answered_at
    assert record.billsec == 1 and record.charge_fen == 10
    assert [e.amount_fen for e in call_entries(b_leg.uuid)] == [-10]
    assert Tenant.get_by_id(tenant.id).balance_fen == 10_000 - 10
    assert a_leg.hangup_cause == "NORMAL_CLEARING" and b_leg.hangup_cause == "NORMAL_CLEARING"
    assert_released(call)
    assert Attempt.select().count() == 1


@pytest.mark.parametrize("presses", [[Press("2")], [Press(None), Press(None)]], ids=["declined", "silence"])
def test_decline_or_silence_is_not_recorded(sqlite_db, make_settings, telephony, presses):
    make_tenant()
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=presses, **TALKS)}))
    (b_leg,) = call.callee_legs
    record = record_of(call)
    assert b_leg.recordings == [] and record.recording_path == ""
    assert record.recording_digit == ("2" if presses[0].digit else "")
    assert record.recording_consent_at is not None  # when the choice was made (or timed out)
    asked = ["consent_request"] if presses[0].digit else ["consent_request", "consent_repeat"]
    assert names(played(b_leg)) == ["disclosure", *asked, "consent_declined"]
    assert names(call.a_leg.broadcasts) == ["agent_not_recorded"]
    assert record.result == "completed" and record.charge_fen == 10


def test_campaign_without_recording_offers_only_the_opt_out(sqlite_db, make_settings, telephony):
    make_tenant(record=False)
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(**TALKS)}))
    (b_leg,) = call.callee_legs
    assert names(played(b_leg)) == ["disclosure", "optout_offer", "connecting"]
    assert record_of(call).recording_digit == "" and b_leg.recordings == []


def test_opt_out_writes_dnc_revokes_consent_and_blocks_the_next_call(db, make_settings, telephony):
    tenant = make_tenant()
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("9")])}))
    a_leg, (b_leg,) = call.a_leg, call.callee_legs
    entry = DoNotCall.get(DoNotCall.number == CALLEE)
    assert (entry.scope, entry.tenant_id, entry.source, entry.source_call) == ("tenant", tenant.id, "optout", b_leg.uuid)
    assert Consent.get(Consent.number == CALLEE).revoked_at is not None
    assert names(played(b_leg)) == ["disclosure", "consent_request", "optout_confirm"]
    assert names(played(a_leg)) == ["tone", "callee_opted_out"]
    assert a_leg.hangup_cause == "CALL_REJECTED"
    record = record_of(call)
    assert (record.result, record.recording_digit) == ("opted_out", "9")
    assert record.prompts == ["disclosure", "consent_request", "optout_confirm"]
    assert record.charge_fen == 10  # answered: billing starts at answer (C1)
    assert_released(call)

    again = finished(place_agent_call(fake))
    blocked = record_of(again)
    assert blocked.decision == "blocked" and "DNC" in blocked.reasons
    assert again.callee_legs == [] and again.a_leg.hangup_cause == "CALL_REJECTED"
    assert names(played(again.a_leg)) == ["blocked_callee_protected"]


def test_opt_out_also_to_the_platform_list_when_configured(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings(optout_to_platform_dnc="true"))
    finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("9")])}))
    assert sorted(e.scope for e in DoNotCall.select()) == ["platform", "tenant"]


@pytest.mark.parametrize("outcome,result,cause,prompt", [
    ("busy", "busy", "USER_BUSY", "callee_busy"),
    ("no_answer", "no_answer", "NO_ANSWER", "callee_no_answer"),
    ("reject", "rejected", "CALL_REJECTED", "callee_rejected"),
    ("unallocated", "failed", "UNALLOCATED_NUMBER", "callee_failed"),
])
def test_failed_callee_leg(sqlite_db, make_settings, telephony, outcome, result, cause, prompt):
    make_tenant()
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(outcome=outcome)}))
    assert call.callee_legs == [] and call.callee_failures == [(CALLEE, cause)]
    assert names(played(call.a_leg)) == ["tone", prompt] and call.a_leg.hangup_cause == "NORMAL_CLEARING"
    record = record_of(call)
    assert (record.result, record.hangup_cause, record.charge_fen, record.charged) == (result, cause, 0, True)
    assert record.prompts == [prompt]
    assert_released(call)
    assert Attempt.select().count() == 1  # an INVITE left: it counts for frequency (A9)


def test_agent_hangs_up_during_the_prompts(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings())
    slow = LegScript(file_seconds=100)  # a 1 s disclosure at this time scale
    # the agent gives up half-way through the callee's disclosure, however late it starts
    agent = LegScript(hangup_after=50, hangup_relative_to="b-leg:execute:playback")
    call = finished(place_agent_call(fake, script=agent, callee_scripts={CALLEE: slow}))
    (b_leg,) = call.callee_legs
    assert b_leg.hangup_cause == "ORIGINATOR_CANCEL"
    record = record_of(call)
    assert record.result == "abandoned" and record.hangup_cause == "ORIGINATOR_CANCEL"
    assert record.charge_fen == 10 and record.billsec >= 1  # the callee had answered (C1)
    assert_released(call)


def test_callee_hangs_up_during_the_prompts(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings())
    # 0.3 s into the 1 s disclosure (its first prompt), however late it starts
    slow = LegScript(file_seconds=100, hangup_after=30, hangup_relative_to="execute:playback")
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: slow}))
    assert names(played(call.a_leg)) == ["tone", "callee_rejected"]
    assert call.a_leg.hangup_cause == "NORMAL_CLEARING"
    record = record_of(call)
    assert record.result == "abandoned" and record.prompts == ["disclosure"] and record.charge_fen == 10
    assert_released(call)


def test_duration_limit_warns_and_cuts_the_call(sqlite_db, make_settings, telephony):
    tenant = make_tenant(balance=10)  # one minute at 10 fen a minute
    fake = telephony.start(make_settings())
    call = place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("2")])})
    # the limit was armed at the answer; FreeSWITCH's clock runs once the call is bridged, so the
    # warning (30 s before the end: 0.3 s here) finds both parties connected
    assert call.wait_for("a-leg:broadcast")
    fake.release_scheduler()
    finished(call, timeout=15)
    a_leg, (b_leg,) = call.a_leg, call.callee_legs
    assert any(c.startswith(f"api sched_hangup +") and c.endswith(f"{b_leg.uuid} ALLOTTED_TIMEOUT")
               for c in b_leg.commands)
    assert b_leg.hangup_cause == "ALLOTTED_TIMEOUT"
    assert "duration_warning" in names(b_leg.broadcasts) and "duration_warning" in names(a_leg.broadcasts)
    record = record_of(call)
    assert record.hangup_cause == "ALLOTTED_TIMEOUT" and record.charge_fen == 10
    assert Tenant.get_by_id(tenant.id).balance_fen == 0
    assert_released(call)


def test_emergency_call_bridges_at_once_and_is_not_billed(sqlite_db, make_settings, telephony):
    make_tenant(balance=0, callees=())
    fake = telephony.start(make_settings())
    talk = LegScript(hangup_after=50, hangup_relative_to="bridge")  # 0.5 s once connected
    call = finished(place_agent_call(fake, "110", callee_scripts={"110": talk}))
    (b_leg,) = call.callee_legs
    assert played(b_leg) == [] and b_leg.recordings == []
    record = record_of(call)
    assert record.decision == "allowed" and record.result == "completed"
    assert record.charge_fen == 0 and call_entries(b_leg.uuid) == []


def test_callee_leg_received_by_another_app_process(sqlite_db, make_settings, telephony):
    """Two app servers: the fake sends the originated leg to the second one. The legs meet only
    through FreeSWITCH (channel variables, uuid_break, uuid_bridge) and the database."""
    make_tenant()
    callee_server = telephony.server(make_settings())
    host, port = callee_server.address
    fake = telephony.start(make_settings(esl_callee_address=f"{host}:{port}"))
    agent_server = telephony.servers[-1]
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("1")], **TALKS)}))
    a_leg, (b_leg,) = call.a_leg, call.callee_legs
    assert a_leg.connection.address == agent_server.address and b_leg.connection.address == (host, port)
    assert agent_server.calls_handled == 1 and callee_server.calls_handled == 1
    assert names(a_leg.broadcasts) == ["agent_recorded"]
    record = record_of(call)
    assert record.result == "completed" and record.recording_digit == "1" and record.charge_fen == 10
