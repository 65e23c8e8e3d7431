"""The fake FreeSWITCH's far-end scripts count from moments of the call, not from the clock: a
slow app meets the same far end as a fast one. Its scheduler can be held still."""

import gevent
import pytest

from fake_switch import LegScript, Press

from .conftest import wait_until

RINGBACK = "tone_stream://%(2000,4000,440,480);loops=-1"


def serve(make_server, make_fake, callee_flow, **fake_kwargs):
    """An agent leg that originates a callee leg back to the same server and waits for its end;
    ``callee_flow(channel, results)`` runs the callee leg."""
    results = {}

    def handler(ch):
        if ch.variable("fsapp_role") == "callee":
            try:
                callee_flow(ch, results)
            except Exception as exc:
                results["error"] = exc
                raise
            return
        ch.answer()
        ch.execute_async("playback", RINGBACK, event_lock=False)
        ch.originate("sofia/external/2002@127.0.0.1:5090", socket_address=server.address,
                     variables={"fsapp_parent": ch.uuid, "fsapp_role": "callee"})
        results["agent_cause"] = ch.wait_hangup(10)

    server = make_server(handler)
    return results, make_fake(server, **fake_kwargs)


def test_a_callee_that_talks_after_the_bridge_waits_for_a_slow_app(make_server, make_fake):
    def callee(ch, results):
        gevent.sleep(0.3)  # a slow app: 30 s of FreeSWITCH time at this scale before it bridges
        results["still_up_at_bridge"] = not ch.is_gone
        ch.uuid_bridge(ch.variable("fsapp_parent"))
        results["cause"] = ch.wait_hangup(10)

    results, fake = serve(make_server, make_fake, callee)
    call = fake.place_call("2002", callee_scripts={
        "2002": LegScript(hangup_after=10, hangup_relative_to="bridge")})  # talks 0.1 s once bridged
    assert call.wait_for("b-leg:bridge", 10) and call.wait_ended(10)
    assert "error" not in results, results["error"]
    assert results["still_up_at_bridge"] and results["cause"] == "NORMAL_CLEARING"
    b_leg = call.leg("2002")
    assert b_leg.hangup_cause == "NORMAL_CLEARING" and call.a_leg.bridged_with == b_leg.uuid
    talk_us = b_leg.profile_time("Caller-Channel-Hangup-Time") - b_leg.bridged_us  # on the process clock
    assert talk_us >= 90_000  # its 10 scaled seconds of talk (0.1 s, timer slack aside) after the bridge


def test_a_hangup_counted_from_an_app_of_another_leg(make_server, make_fake):
    """The agent hangs up 0.2 s (scaled) into the callee leg's first prompt, however late it starts."""
    def callee(ch, results):
        agent = fake.legs[ch.variable("fsapp_parent")]
        gevent.sleep(0.2)  # a slow app: the agent's 20 scaled seconds count from the prompt, not from here
        results["agent_up_at_prompt"] = not agent.hangup_started
        try:
            ch.playback("/prompts/disclosure.wav")
        except Exception as exc:  # the agent's hangup does not end this leg: it plays on
            results["playback"] = exc
        results["agent_gone_during_prompt"] = agent.hangup_started
        ch.hangup()

    results, fake = serve(make_server, make_fake, callee)
    agent = LegScript(hangup_after=20, hangup_relative_to="b-leg:execute:playback")
    call = fake.place_call("2002", script=agent, callee_scripts={"2002": LegScript(file_seconds=50)})
    assert call.wait_ended(10)
    assert "error" not in results, results["error"]
    assert results["agent_up_at_prompt"] and results["agent_gone_during_prompt"] and "playback" not in results
    assert call.a_leg.hangup_cause == "NORMAL_CLEARING"


def test_a_press_counted_from_a_moment(make_server, make_fake):
    def flow(ch, results):
        ch.answer()
        gevent.sleep(0.1)
        ch.playback("tone_stream://%(3000,0,440)")  # 30 ms at this scale: the 7 comes 5 ms in
        results["digit"] = ch.play_and_get_digits("silence_stream://100", digit_timeout_ms=3000)
        ch.hangup()

    results = {}
    server = make_server(lambda ch: flow(ch, results))
    fake = make_fake(server)
    # the key comes during the playback (not when the leg answered): the next prompt does not see
    # it (fs-transcripts 08a), so a digit pressed at the answer would give the same result only by luck
    call = fake.place_call("1234", script=LegScript(presses=[Press("7", 0.5, relative_to="execute:playback"),
                                                             Press("3", 0.5)]))
    assert call.wait_ended(10)
    assert call.a_leg.dtmf_sent == ["7", "3"] and results["digit"] == "3"
    assert call.a_leg.events_sent.index("DTMF") > call.a_leg.events_sent.index("CHANNEL_EXECUTE")


def test_call_moments_name_their_leg(make_server, make_fake):
    server = make_server(lambda ch: ch.hangup())
    call = make_fake(server).place_call("1234")
    assert call.wait_for("a-leg:connect", 5) and call.wait_for("a-leg:hangup", 5)
    assert not call.wait_for("b-leg:connect", 0)
    with pytest.raises(ValueError, match="names its leg"):
        call.moment("bridge")


def test_the_held_scheduler_fires_nothing_until_released(make_server, make_fake):
    seen = {}

    def flow(ch, results):
        ch.answer()
        ch.sched_broadcast(1, "/prompts/warning.wav")
        ch.sched_hangup(2, "ALLOTTED_TIMEOUT")
        results["scheduled"] = True
        results["cause"] = ch.wait_hangup(10)

    server = make_server(lambda ch: flow(ch, seen))
    fake = make_fake(server)
    fake.hold_scheduler()
    call = fake.place_call("1234")
    assert wait_until(lambda: seen.get("scheduled"))
    gevent.sleep(0.1)  # five times the +2 of the hangup at this scale: nothing may fire meanwhile
    assert call.a_leg.broadcasts == [] and not call.a_leg.hangup_started
    fake.release_scheduler()
    assert call.wait_ended(10)
    assert call.a_leg.broadcasts == ["/prompts/warning.wav"] and seen["cause"] == "ALLOTTED_TIMEOUT"
