"""Channel methods the call flows added (uuid_setvar/getvar, uuid_broadcast, sched_del,
wait_hangup_complete) against the fake FreeSWITCH's matching mod_commands replies."""
import pytest

from fs_app.channel import CommandError
from fs_app.metering import event_time
from fs_app.server import CallServer
from fake_switch import FakeFreeSwitch, LegScript


@pytest.fixture
def run_with():
    servers, fakes = [], []

    def start(handler, **fake_kwargs):
        server = CallServer(handler, "127.0.0.1", 0, command_timeout=2.0)
        server.start()
        servers.append(server)
        fake_kwargs.setdefault("time_scale", 0.01)
        fake = FakeFreeSwitch(*server.address, **fake_kwargs)
        fakes.append(fake)
        return fake

    yield start
    for fake in fakes:
        fake.close()
    for server in servers:
        server.stop()


def test_setvar_getvar_broadcast_and_scheduler_groups(run_with):
    seen, switch = {}, {}

    def handler(channel):
        channel.answer()
        assert channel.uuid_setvar(channel.uuid, "fsapp_x", "bridged")
        seen["x"] = channel.uuid_getvar(channel.uuid, "fsapp_x")
        seen["unset"] = channel.uuid_getvar(channel.uuid, "fsapp_nothing")
        with pytest.raises(CommandError):
            channel.uuid_getvar("00000000-0000-4000-8000-000000000000", "x")
        seen["broadcast"] = channel.uuid_broadcast(channel.uuid, "/tmp/notice.wav", leg="aleg")
        channel.sched_hangup(50, uuid=channel.uuid)
        channel.sched_broadcast(40, "/tmp/warn.wav", leg="both")
        seen["deleted"] = channel.sched_del(channel.uuid)
        switch["fake"].release_scheduler()  # FreeSWITCH's clock ran not a tick before the sched_del
        channel.sched_hangup(2, "ALLOTTED_TIMEOUT")
        event = channel.wait_hangup_complete(timeout=5)
        seen["event"] = event

    fake = switch["fake"] = run_with(handler, time_scale=0.05)
    fake.hold_scheduler()  # +40 s is 2 s here: the app's own speed must not decide what sched_del finds
    call = fake.place_call("1234")
    assert call.wait_ended(10)
    leg = call.a_leg
    assert seen["x"] == "bridged" and seen["unset"] is None
    assert seen["broadcast"] is True and leg.broadcasts == ["/tmp/notice.wav"]
    assert seen["deleted"] == 2  # the sched_hangup and the sched_broadcast of the uuid's group
    assert leg.hangup_cause == "ALLOTTED_TIMEOUT"  # only the re-armed hangup fired
    event = seen["event"]
    assert event["Hangup-Cause"] == "ALLOTTED_TIMEOUT"
    answered, ended = (event_time(event["Caller-Channel-Answered-Time"]),
                       event_time(event["Caller-Channel-Hangup-Time"]))
    assert answered is not None and ended is not None and answered <= ended
    assert int(event.variable("billsec")) == int(event.variable("end_epoch")) - int(event.variable("answer_epoch"))


def test_broadcast_to_a_gone_channel_is_false(run_with):
    result = {}

    def handler(channel):
        result["ok"] = channel.uuid_broadcast("00000000-0000-4000-8000-000000000000", "/tmp/x.wav")
        channel.hangup()

    fake = run_with(handler)
    call = fake.place_call("1234", script=LegScript())
    assert call.wait_ended(5)
    assert result["ok"] is False
