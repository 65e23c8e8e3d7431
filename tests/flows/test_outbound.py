"""The outbound call end to end: agent leg + callee leg through the fake FreeSWITCH."""
from __future__ import annotations

import pytest

from models.calls.tables import Attempt
from models.calls.tables import CallRecord, Hold
from models.lists.tables import Consent, DoNotCall
from models.ledger.tables import LedgerEntry
from models.tenancy.tables import Tenant
from fake_switch import LegScript, Press

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


def _digit_timeouts_ms(leg) -> dict[str, int]:
    """Prompt name -> the digit timeout of its play_and_get_digits on this leg."""
    out = {}
    for _, direction, data in leg.connection.frames:
        if direction == "app->fs" and b"execute-app-name: play_and_get_digits" in data:
            arg = dict(line.split(": ", 1) for line in data.decode().split("\n") if ": " in line)["execute-app-arg"]
            fields = arg.split(" ")
            out[names([fields[5]])[0]] = int(fields[3])
    return out


@pytest.mark.parametrize("window_s, expected_ms", [(2, 2000), (60, 3000)])  # at most the consent timeout (3 s)
def test_opt_out_offer_waits_the_configured_window(sqlite_db, make_settings, telephony, window_s, expected_ms):
    make_tenant(record=False)
    fake = telephony.start(make_settings(optout_window_s=window_s, recording_consent_timeout_s=3))
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(**TALKS)}))
    (b_leg,) = call.callee_legs
    assert _digit_timeouts_ms(b_leg) == {"optout_offer": expected_ms}


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


def test_the_originate_goes_first_and_the_bridge_answers_the_agent_leg(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("2")], **TALKS)}))
    a_leg = call.a_leg
    # nothing between the socket's set-up and the originate; early media follows in the same write
    assert a_leg.commands[:5] == ["connect", "myevents", "event plain BACKGROUND_JOB", "linger",
                                  a_leg.commands[4]]
    assert a_leg.commands[4].startswith("bgapi originate {") and "playback_terminators=9" in a_leg.commands[4]
    executed = [data.split(b"execute-app-name: ")[1].split(b"\n")[0].decode()
                for _, direction, data in a_leg.connection.frames
                if direction == "app->fs" and b"execute-app-name: " in data]
    assert executed[:2] == ["pre_answer", "playback"] and "answer" not in executed
    # the 183 first; the 200 (CHANNEL_ANSWER) only once uuid_bridge joined it to the callee (07)
    events = a_leg.events_sent
    assert events.index("CHANNEL_PROGRESS_MEDIA") < events.index("CHANNEL_ANSWER")
    assert events.index("CHANNEL_ANSWER") > events.index("CHANNEL_EXECUTE", events.index("CHANNEL_PROGRESS_MEDIA") + 1)
    assert record_of(call).result == "completed"


def test_opt_out_key_during_the_disclosure(db, make_settings, telephony):
    tenant = make_tenant()
    fake = telephony.start(make_settings())
    # a 1 s disclosure; the callee presses 9 0.3 s into it (fs-transcripts 08: a playback
    # consumes keys, so this works only because 9 is one of the leg's playback_terminators)
    script = LegScript(file_seconds=100, presses=[Press("9", 30, relative_to="execute:playback")])
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: script}))
    a_leg, (b_leg,) = call.a_leg, call.callee_legs
    assert names(played(b_leg)) == ["disclosure", "optout_confirm"]  # no question asked
    disclosure_done = next(data for _, direction, data in b_leg.connection.frames
                           if direction == "fs->app" and b"Event-Name: CHANNEL_EXECUTE_COMPLETE" in data
                           and b"Application: playback" in data)
    assert b"variable_playback_terminator_used: 9\n" in disclosure_done  # cut short by the key
    entry = DoNotCall.get(DoNotCall.number == CALLEE)
    assert (entry.tenant_id, entry.source, entry.source_call) == (tenant.id, "optout", b_leg.uuid)
    assert Consent.get(Consent.number == CALLEE).revoked_at is not None
    assert a_leg.hangup_cause == "CALL_REJECTED" and early_media_only(a_leg)  # 603
    record = record_of(call)
    assert (record.result, record.recording_digit) == ("opted_out", "9") and record.recording_consent_at is not None


def test_opt_out_key_during_the_acknowledgement_before_the_bridge(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings())
    script = LegScript(file_seconds=100, presses=[Press("2"),  # declines recording, then changes their mind
                                                  Press("9", 30, relative_to="complete:play_and_get_digits")])
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: script}))
    (b_leg,) = call.callee_legs
    assert names(played(b_leg)) == ["disclosure", "consent_request", "consent_declined", "optout_confirm"]
    assert b_leg.bridged_with is None and call.a_leg.hangup_cause == "CALL_REJECTED"
    assert record_of(call).result == "opted_out"
    assert DoNotCall.select().count() == 1


def test_consent_key_during_the_disclosure_is_not_an_answer(sqlite_db, make_settings, telephony):
    """A 1 pressed before the question was asked is consumed by the disclosure (08a): it is
    neither consent nor an early end of the disclosure; silence afterwards is a decline."""
    make_tenant()
    fake = telephony.start(make_settings())
    script = LegScript(file_seconds=100, presses=[Press("1", 30, relative_to="execute:playback"), Press(None),
                                                  Press(None)], **TALKS)
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: script}))
    (b_leg,) = call.callee_legs
    assert b_leg.dtmf_sent == ["1"]
    assert names(played(b_leg)) == ["disclosure", "consent_request", "consent_repeat", "consent_declined"]
    assert b_leg.recordings == [] and "playback_terminator_used" not in b_leg.variables
    record = record_of(call)
    assert (record.result, record.recording_digit, record.recording_path) == ("completed", "", "")


def test_opt_out_also_to_the_platform_list_when_configured(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings(optout_to_platform_dnc="true"))
    finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(presses=[Press("9")])}))
    assert sorted(e.scope for e in DoNotCall.select()) == ["platform", "tenant"]


def early_media_only(leg) -> bool:
    """The leg got a 183 (pre_answer) and never a 200: its phone sees the hangup cause as the
    SIP final response (fs-transcripts 07b)."""
    events = leg.events_sent
    return "CHANNEL_PROGRESS_MEDIA" in events and "CHANNEL_ANSWER" not in events


@pytest.mark.parametrize("outcome,result,cause,prompt,agent_cause", [
    ("busy", "busy", "USER_BUSY", "callee_busy", "USER_BUSY"),  # 486 Busy Here
    ("no_answer", "no_answer", "NO_ANSWER", "callee_no_answer", "NO_ANSWER"),  # 480
    ("reject", "rejected", "CALL_REJECTED", "callee_rejected", "CALL_REJECTED"),  # 603
    ("unallocated", "failed", "UNALLOCATED_NUMBER", "callee_failed", "UNALLOCATED_NUMBER"),  # 404
    ("unreachable", "failed", "NORMAL_TEMPORARY_FAILURE", "callee_failed", "NORMAL_TEMPORARY_FAILURE"),  # 503
])
def test_failed_callee_leg(sqlite_db, make_settings, telephony, outcome, result, cause, prompt, agent_cause):
    make_tenant()
    fake = telephony.start(make_settings())
    call = finished(place_agent_call(fake, callee_scripts={CALLEE: LegScript(outcome=outcome)}))
    assert call.callee_legs == [] and call.callee_failures == [(CALLEE, cause)]
    # the prompt in early media, then the cause the agent's phone gets as its final response
    assert names(played(call.a_leg)) == ["tone", prompt] and call.a_leg.hangup_cause == agent_cause
    assert early_media_only(call.a_leg)
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
    assert call.a_leg.hangup_cause == "CALL_REJECTED" and early_media_only(call.a_leg)  # 603 Decline
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
