"""Channel over real TCP against the fake FreeSWITCH: executes, digits, hangups, failures, timeouts."""

import logging
import time
from datetime import datetime

import gevent
import pytest

from fs_app.channel import ChannelGone, ChannelTimeout, CommandError, OriginateFailed
from fake_switch import LegScript, Press
from domain.clock import EPOCH

from .conftest import wait_until


def run_call(make_server, make_fake, flow, *, script=None, callee_scripts=None, fake_kwargs=None, **call_kwargs):
    """Serve one call with ``flow(channel, results)``; returns (results, fake call, server)."""
    results = {}

    def handler(channel):
        results["channel"] = channel
        try:
            flow(channel, results)
        except Exception as exc:
            results["error"] = exc
            raise

    server = make_server(handler)
    fake = make_fake(server, **(fake_kwargs or {}))
    call = fake.place_call(call_kwargs.pop("destination", "2002"), call_kwargs.pop("caller", "1000"),
                           script=script, callee_scripts=callee_scripts, **call_kwargs)
    assert call.wait_ended(10), "call did not end"
    assert wait_until(lambda: server.live_calls == 0), "handler still running"
    return results, call, server


def test_happy_path_answer_playback_hangup(make_server, make_fake):
    def flow(ch, results):
        results["uuid"] = ch.uuid
        results["tenant"] = ch.variable("app_tenant")
        results["full_from"] = ch.variable("sip_full_from")
        results["dest"] = ch.get("Caller-Destination-Number")
        ch.answer()
        results["answered"] = ch.answered
        results["played"] = ch.playback("tone_stream://%(100,0,440)")
        ch.hangup("NORMAL_CLEARING", wait=True, timeout=2)
        results["cause"] = ch.hangup_cause

    results, call, server = run_call(make_server, make_fake, flow, variables={"app_tenant": "acme"},
                                     sip_auth_username="seat-7", sip_auth_realm="acme.example")
    assert "error" not in results
    assert results["uuid"] == call.a_leg.uuid
    assert results["tenant"] == "acme"
    assert results["full_from"] == '"sipp" <sip:1000@127.0.0.1:5070>;tag=24493SIPpTag001'  # url-decoded
    assert results["dest"] == "2002"
    assert results["answered"] is True
    assert results["played"] == "FILE PLAYED"
    assert results["cause"] == "NORMAL_CLEARING"
    leg = call.a_leg
    assert leg.hangup_cause == "NORMAL_CLEARING"
    assert leg.commands[:4] == ["connect", "myevents", "event plain BACKGROUND_JOB", "linger"]
    assert leg.commands[-1] == "exit"  # the server released the lingering socket
    assert leg.events_sent[-1] == "CHANNEL_HANGUP_COMPLETE"
    log = results["channel"].event_log
    assert any(direction == "out" and summary.startswith("sendmsg") for _, direction, summary in log)
    assert server.live_calls == 0 or wait_until(lambda: server.live_calls == 0)


def test_wire_times_come_from_the_process_clock(make_server, make_fake, clock):
    """Event dates, the channel's Caller-Channel-*-Time and the hangup's epochs are the process
    clock's (domain.clock), as the app's own utcnow() is: here a stopped clock the flow moves."""
    start = datetime(2026, 11, 23, 2, 0, 0, 250_000)
    start_us = int((start - EPOCH).total_seconds()) * 1_000_000 + 250_000
    clock.freeze(start)

    def flow(ch, results):
        results["connect"] = {name: ch.get(name) for name in (
            "Event-Date-Timestamp", "Event-Date-GMT", "Caller-Channel-Created-Time")}
        ch.answer()
        clock.advance(7)  # seven seconds of talk on the process clock
        ch.hangup()
        results["end"] = ch.wait_hangup_complete(timeout=5)

    results, call, _ = run_call(make_server, make_fake, flow)
    assert "error" not in results, results.get("error")
    assert results["connect"] == {"Event-Date-Timestamp": str(start_us),
                                  "Event-Date-GMT": "Mon, 23 Nov 2026 02:00:00 GMT",
                                  "Caller-Channel-Created-Time": str(start_us)}
    end = results["end"]
    end_us = start_us + 7_000_000
    assert (end.get("Caller-Channel-Answered-Time"), end.get("Caller-Channel-Hangup-Time")) == (str(start_us),
                                                                                             str(end_us))
    assert end.get("Event-Date-Timestamp") == str(end_us)
    assert [end.variable(f"{name}_uepoch") for name in ("start", "answer", "end")] == [str(start_us), str(start_us),
                                                                                       str(end_us)]
    assert (end.variable("end_epoch"), end.variable("billsec")) == (str(end_us // 1_000_000), "7")


def test_event_log_is_bounded(make_server, make_fake):
    def flow(ch, results):
        for _ in range(100):
            ch.set_var("x", "1")
        results["log_len"] = len(ch.event_log)
        results["maxlen"] = ch.event_log.maxlen

    results, call, _ = run_call(make_server, make_fake, flow)
    assert results["log_len"] == results["maxlen"] == 64


def test_play_and_get_digits_returns_digit_and_none_on_silence(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        results["first"] = ch.play_and_get_digits("silence_stream://100", digit_timeout_ms=3000)
        results["second"] = ch.play_and_get_digits("silence_stream://100", digit_timeout_ms=500)
        results["third"] = ch.play_and_get_digits("silence_stream://100", digit_timeout_ms=3000,
                                                  var_name="consent_digit")
        results["dtmf"] = list(ch.dtmf)
        ch.hangup()

    script = LegScript(presses=[Press("2", 0.5), Press(None), Press("9", 1.0)])
    results, call, _ = run_call(make_server, make_fake, flow, script=script)
    assert "error" not in results
    assert (results["first"], results["second"], results["third"]) == ("2", None, "9")
    assert results["dtmf"] == ["2", "9"]
    assert call.a_leg.dtmf_sent == ["2", "9"]


def test_same_app_twice_is_matched_by_application_uuid(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        ch.answer()  # a second answer: its own EXECUTE_COMPLETE, no second CHANNEL_ANSWER (01)
        # Without event-lock the second playback runs nested and completes FIRST (01b).
        long_play = ch.execute_async("playback", "tone_stream://%(1000,0,440)", event_lock=False)
        short_play = ch.execute_async("playback", "tone_stream://%(100,0,660)", event_lock=False)
        first_done = long_play.wait(5)
        results["short_done_before_long"] = short_play.done
        results["long_uuid"] = (first_done.get("Application-UUID"), long_play.app_uuid)
        results["long_data"] = first_done.get("Application-Data")
        results["short_data"] = short_play.wait(1).get("Application-Data")
        ch.hangup()

    results, call, _ = run_call(make_server, make_fake, flow)
    assert "error" not in results
    assert results["short_done_before_long"] is True
    assert results["long_uuid"][0] == results["long_uuid"][1]
    assert results["long_data"] == "tone_stream://%(1000,0,440)"
    assert results["short_data"] == "tone_stream://%(100,0,660)"
    assert call.a_leg.events_sent.count("CHANNEL_ANSWER") == 1


def test_hangup_during_playback_raises_channel_gone(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        try:
            ch.playback("tone_stream://%(1000,1000,440);loops=20", timeout=10)
        except ChannelGone as exc:
            results["gone_cause"] = exc.cause
        results["is_gone"] = ch.is_gone
        try:
            ch.playback("tone_stream://%(100,0,440)")
        except ChannelGone as exc:
            results["after"] = exc.cause
        results["getvar"] = ch.getvar("sip_call_id")  # still answered on a lingering session (04a)
        results["kill_self"] = ch.uuid_kill(ch.uuid)

    script = LegScript(hangup_after=2.5, hangup_relative_to="execute:playback")  # the caller's BYE 2.5 s in (04)
    results, call, _ = run_call(make_server, make_fake, flow, script=script)
    assert "error" not in results
    assert results["gone_cause"] == "NORMAL_CLEARING"
    assert results["is_gone"] is True
    assert results["after"] == "NORMAL_CLEARING"
    assert results["getvar"] == call.a_leg.variables["sip_call_id"]
    assert results["kill_self"] is False  # -ERR No such channel!
    events = call.a_leg.events_sent
    hangup = events.index("CHANNEL_HANGUP")
    assert events[hangup:hangup + 3] == ["CHANNEL_HANGUP", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_UNPARK"]


def test_tolerant_execute_returns_playback_error(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        results["response"] = ch.playback("tone_stream://%(1000,1000,440);loops=20", tolerate_hangup=True,
                                          timeout=10)
        results["cause"] = ch.hangup_cause

    script = LegScript(hangup_after=1.0, hangup_relative_to="execute:playback")  # 1 s into the 40 s tone
    results, call, _ = run_call(make_server, make_fake, flow, script=script)
    assert results["response"] == "PLAYBACK ERROR"
    assert results["cause"] == "NORMAL_CLEARING"


def test_socket_drop_mid_command_raises_channel_gone(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        try:
            ch.playback("tone_stream://%(100,0,440)")
        except ChannelGone as exc:
            results["gone"] = (exc.cause, exc.reason)
        results["socket_closed"] = ch.socket_closed

    results, call, server = run_call(make_server, make_fake, flow,
                                     script=LegScript(drop_socket_on="execute:playback"))
    assert results["gone"][0] is None
    assert "closed" in results["gone"][1]
    assert results["socket_closed"] is True
    assert wait_until(lambda: server.live_calls == 0)


def test_garbage_frame_drops_only_that_call(make_server, make_fake, caplog):
    outcomes = {}

    def handler(ch):
        ch.answer()
        try:
            outcomes[ch.get("Caller-Destination-Number")] = ch.playback("tone_stream://%(300,0,440)")
        except ChannelGone as exc:
            outcomes[ch.get("Caller-Destination-Number")] = exc
        ch.hangup()

    server = make_server(handler)
    fake = make_fake(server)
    with caplog.at_level(logging.ERROR, logger="fs_app.channel"):
        bad = fake.place_call("666", script=LegScript(garbage_on="execute:playback",
                                                      garbage=b"Content-Type: command/reply\nContent-Length: -7\n\n"))
        good = fake.place_call("777")
        noise = fake.place_call("888", script=LegScript(garbage_on="execute:playback",
                                                        garbage=b"\x00\xffnot an event socket frame\n\n"))
        assert good.wait_ended(10) and bad.wait_ended(10) and noise.wait_ended(10)
    assert outcomes["777"] == "FILE PLAYED"
    assert isinstance(outcomes["666"], ChannelGone)
    assert isinstance(outcomes["888"], ChannelGone)
    assert any("malformed Event Socket data" in r.message for r in caplog.records)
    assert wait_until(lambda: server.live_calls == 0)
    # the server still takes calls
    again = fake.place_call("999")
    assert again.wait_ended(10)
    assert outcomes["999"] == "FILE PLAYED"


def test_execute_timeout_and_command_timeout(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        try:
            ch.playback("tone_stream://%(1000,0,440);loops=100", timeout=0.05)
        except ChannelTimeout as exc:
            results["exec_timeout"] = str(exc)
        try:
            ch.api("originate sofia/external/5555@127.0.0.1 &park()", timeout=0.05)  # sync api: blocks
        except ChannelTimeout as exc:
            results["api_timeout"] = str(exc)
        try:
            ch.wait_for_event("DTMF", timeout=0.02)
        except ChannelTimeout as exc:
            results["event_timeout"] = str(exc)
        ch.uuid_break()
        results["late_reply_realigned"] = ch.api("status")  # the late api reply must not be taken for this one
        ch.hangup()

    results, call, _ = run_call(make_server, make_fake, flow,
                                callee_scripts={"5555": LegScript(answer_after=30, hangup_after=1)},
                                fake_kwargs={"time_scale": 0.01})
    assert "error" not in results, results.get("error")
    assert "did not complete" in results["exec_timeout"]
    assert "no reply" in results["api_timeout"]
    assert "no DTMF" in results["event_timeout"]
    assert results["late_reply_realigned"].startswith("UP ")


def test_bgapi_results_are_matched_by_job_uuid(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        jobs = {name: gevent.spawn(ch.bgapi, f"uuid_getvar {ch.uuid} {name}")
                for name in ("sip_call_id", "direction", "uuid")}
        results["vars"] = {name: job.get(timeout=5) for name, job in jobs.items()}
        try:
            ch.originate("sofia/external/3486@127.0.0.1:5091", socket_address=("127.0.0.1", 1))
        except OriginateFailed as exc:
            results["busy"] = exc.cause
        try:
            ch.sched_hangup(5, uuid="00000000-0000-0000-0000-000000000000")
        except CommandError as exc:
            results["bad_uuid"] = exc.reply
        ch.hangup()

    results, call, _ = run_call(make_server, make_fake, flow,
                                callee_scripts={"3486": LegScript(outcome="busy")})
    assert "error" not in results, results.get("error")
    leg = call.a_leg
    assert results["vars"] == {"sip_call_id": leg.variables["sip_call_id"], "direction": "inbound",
                               "uuid": leg.uuid}
    assert results["busy"] == "USER_BUSY"
    assert results["bad_uuid"] == "-ERR No such channel!\n"


@pytest.mark.parametrize("outcome,cause", [("no_answer", "NO_ANSWER"), ("reject", "CALL_REJECTED"),
                                           ("unallocated", "UNALLOCATED_NUMBER"),
                                           ("unreachable", "NORMAL_TEMPORARY_FAILURE")])
def test_originate_failures(make_server, make_fake, outcome, cause):
    def flow(ch, results):
        try:
            ch.originate("sofia/external/4000@127.0.0.1", socket_address=("127.0.0.1", 1),
                         variables={"originate_timeout": "3"})
        except OriginateFailed as exc:
            results["cause"] = exc.cause
        ch.hangup()

    results, call, _ = run_call(make_server, make_fake, flow, callee_scripts={"4000": LegScript(outcome=outcome)})
    assert results["cause"] == cause
    assert call.callee_failures == [("4000", cause)]


def test_originate_callee_leg_arrives_before_background_job_and_bridges(make_server, make_fake):
    """The agent-leg / callee-leg flow the call-flow layer builds on."""
    timeline = []
    results = {}

    def handler(ch):
        if ch.variable("fsapp_role") == "callee":
            timeline.append((ch.event_log[0][0], "callee sent connect"))
            results["callee_cid"] = ch.get("Caller-Caller-ID-Number")
            results["callee_orig_cid"] = ch.get("Caller-Orig-Caller-ID-Number")
            results["callee_parent"] = ch.variable("fsapp_parent")
            results["consent"] = ch.play_and_get_digits("silence_stream://100", digit_timeout_ms=3000)
            ch.uuid_bridge(ch.variable("fsapp_parent"))
            results["callee_bridged_with"] = ch.wait_bridged(timeout=5)
            results["callee_cause"] = ch.wait_hangup(10)
            return
        ch.answer()
        ringback = ch.execute_async("playback", "tone_stream://%(2000,4000,440,480);loops=-1", event_lock=False)
        b_uuid = ch.originate("sofia/external/2002@127.0.0.1:5090", socket_address=server.address,
                              variables={"fsapp_parent": ch.uuid, "fsapp_role": "callee",
                                         "origination_caller_id_number": "+862012345678"},
                              origination_uuid="b2b2b2b2-0000-4000-8000-000000000002")
        timeline.append((time.monotonic(), "originate returned"))
        results["b_uuid"] = b_uuid
        results["ringback"] = ringback.response(timeout=5)  # the bridge takes the channel away
        results["agent_cause"] = ch.wait_hangup(10)

    server = make_server(handler)
    fake = make_fake(server)
    call = fake.place_call("2002", "1000", callee_scripts={
        "2002": LegScript(presses=[Press("1", 0.3)], hangup_after=2.0, hangup_relative_to="bridge")})
    assert call.wait_ended(10)
    assert [what for _, what in sorted(timeline)] == ["callee sent connect", "originate returned"]
    assert results["b_uuid"] == "b2b2b2b2-0000-4000-8000-000000000002"
    assert results["callee_cid"] == "2002"  # the dialled number (surprise 3)
    assert results["callee_orig_cid"] == "+862012345678"
    assert results["callee_parent"] == call.a_leg.uuid
    assert results["consent"] == "1"
    assert results["callee_bridged_with"] == call.a_leg.uuid
    assert results["ringback"] == "PLAYBACK ERROR"
    assert results["agent_cause"] == results["callee_cause"] == "NORMAL_CLEARING"
    b_leg = call.leg("2002")
    assert b_leg.bridged_with == call.a_leg.uuid and call.a_leg.bridged_with == b_leg.uuid
    assert "CHANNEL_BRIDGE" in b_leg.events_sent and "CHANNEL_BRIDGE" not in call.a_leg.events_sent
    # on the wire: B's connect arrived before the BACKGROUND_JOB was written to A
    b_connect = b_leg.connection.connect_command_at
    job_sent = next(t for t, d, data in call.a_leg.connection.frames
                    if d == "fs->app" and b"Event-Name: BACKGROUND_JOB" in data)
    assert b_connect < job_sent
    assert call.admission_latency is not None and call.admission_latency > 0


def test_record_session_and_sched_hangup(make_server, make_fake):
    def flow(ch, results):
        ch.subscribe("RECORD_START", "RECORD_STOP")
        ch.answer()
        ch.record_session(f"/var/lib/freeswitch/recordings/{ch.uuid}.wav")
        ch.sched_broadcast(1, "tone_stream://%(300,200,800);loops=2")
        ch.sched_hangup(3, "ALLOTTED_TIMEOUT")
        results["start"] = ch.wait_for_event("RECORD_STOP", timeout=5, tolerate_hangup=True).get("Record-File-Path")
        results["cause"] = ch.wait_hangup(5)

    results, call, _ = run_call(make_server, make_fake, flow, fake_kwargs={"time_scale": 0.05})
    assert "error" not in results, results.get("error")
    assert results["cause"] == "ALLOTTED_TIMEOUT"
    assert results["start"].endswith(f"{call.a_leg.uuid}.wav")
    assert call.a_leg.recordings[0]["stopped"] is not None
    events = call.a_leg.events_sent
    assert events.index("RECORD_START") < events.index("CHANNEL_HANGUP") < events.index("RECORD_STOP")


def test_inbound_call_to_leased_number(make_server, make_fake):
    def flow(ch, results):
        results["did"] = ch.get("Caller-Destination-Number")
        results["ani"] = ch.get("Caller-Caller-ID-Number")
        results["direction"] = ch.get("Call-Direction")
        ch.hangup("CALL_REJECTED")

    results, call, _ = run_call(make_server, make_fake, flow, destination="02088886666", caller="13800138000")
    assert results == {"channel": results["channel"], "did": "02088886666", "ani": "13800138000",
                       "direction": "inbound"}
    assert call.a_leg.hangup_cause == "CALL_REJECTED"


def test_setup_commands_go_in_one_write_and_a_silent_switch_times_out():
    """connect, myevents, event plain and linger are pipelined (one round trip of post-dial
    delay); a switch that never answers still gives a ChannelTimeout naming the command."""
    import socket

    from fs_app.channel import Channel

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    switch_side = socket.create_connection(listener.getsockname())
    app_side, _ = listener.accept()
    try:
        with pytest.raises(ChannelTimeout, match="'connect'"):
            Channel(app_side).connect(timeout=0.2)
        switch_side.settimeout(1)
        assert switch_side.recv(1000) == b"connect\n\nmyevents\n\nevent plain BACKGROUND_JOB\n\nlinger\n\n"
    finally:
        for sock in (switch_side, app_side, listener):
            sock.close()


def test_header_block_lookup_matches_a_dict_built_line_by_line():
    """HeaderBlock finds values in the text on demand; it must answer as the dict it replaced:
    the last occurrence wins, an empty value is "", a longer name is not a match."""
    from fs_app.esl.errors import ProtocolError
    from fs_app.esl.frames import HeaderBlock

    text = ("Event-Name: DTMF\nApplication-UUID: a1\nApplication: playback\nEmpty:\n"
            "variable_x: 1\nvariable_x: 2\nLast-Empty: set\nLast-Empty:")
    block = HeaderBlock(text)
    expected = {}
    for line in text.split("\n"):
        name, _, value = line.partition(":")
        expected[name] = value[1:] if value.startswith(" ") else value
    for name in list(expected) + ["Application-U", "Missing", "variable_"]:
        assert block.get(name) == expected.get(name), name
    assert block.get("Empty") == "" and block.get("variable_x") == "2" and block.get("Last-Empty") == ""
    assert dict(block.items()) == expected
    with pytest.raises(ProtocolError):
        HeaderBlock("Event-Name: DTMF\nno separator here")


def test_play_and_hang_up_stops_the_ringback_and_hangs_up_after_the_prompt(make_server, make_fake):
    def flow(ch, results):
        ch.execute("pre_answer")
        ringback = ch.execute_async("playback", "tone_stream://%(2000,4000,440,480);loops=-1")
        results["cause"] = ch.play_and_hang_up("tone_stream://%(100,0,440)", "USER_BUSY", break_media=True,
                                               timeout=5)
        results["ringback"] = ringback.response(timeout=5) if ringback.done else None

    results, call, _ = run_call(make_server, make_fake, flow)
    assert "error" not in results and results["cause"] == "USER_BUSY"
    leg = call.a_leg
    assert leg.hangup_cause == "USER_BUSY" and not leg.answered  # early media only: 486 to the caller
    writes = [data for _, direction, data in leg.connection.frames if direction == "app->fs"]
    joined = b"".join(writes)
    # the ringback stopped, the prompt played to its end, then the hangup application ran
    assert joined.index(b"api uuid_break") < joined.index(b"execute-app-arg: tone_stream://%(100") \
        < joined.index(b"execute-app-name: hangup")
    events = leg.events_sent
    assert events.index("CHANNEL_PROGRESS_MEDIA") < events.index("CHANNEL_HANGUP")
    completes = [data for _, direction, data in leg.connection.frames
                 if direction == "fs->app" and b"Event-Name: CHANNEL_EXECUTE_COMPLETE" in data
                 and b"Application: playback" in data]
    assert len(completes) == 2 and all(b"Application-Response: FILE%20PLAYED" in c for c in completes)
