"""CallServer over real TCP: capacity, allowlist, handler failures, drain, SIGTERM, a taken port,
a given listening socket."""

import logging
import os
import signal
import socket

import gevent
import pytest

from fs_app.listeners import ListenError, listen
from fs_app.server import CallServer
from fake_switch import LegScript

from .conftest import wait_until


def hold_until_hangup(ch):
    ch.answer()
    ch.wait_hangup(30)


def test_over_max_live_calls_is_hung_up_with_congestion(make_server, make_fake, caplog):
    server = make_server(hold_until_hangup, max_live_calls=2)
    fake = make_fake(server)
    held = [fake.place_call("1001") for _ in range(2)]  # up until their callers hang up below
    assert wait_until(lambda: server.live_calls == 2 and all(c.a_leg.answered for c in held))
    with caplog.at_level(logging.WARNING, logger="fs_app.server"):
        refused = fake.place_call("1002")
        assert refused.wait_ended(5)
    assert refused.a_leg.hangup_cause == "SWITCH_CONGESTION"
    assert refused.a_leg.commands[-1] == "exit"
    assert any("exceed the maximum" in r.message and refused.a_leg.uuid in r.message for r in caplog.records)
    assert server.refused_over_capacity == 1
    assert all(not c.ended.is_set() for c in held)  # the live calls are untouched
    for call in held:
        call.a_leg.hangup()
        assert call.wait_ended(10)
        assert call.a_leg.hangup_cause == "NORMAL_CLEARING"


def test_peer_not_in_allowlist_is_refused(make_server, make_fake, caplog):
    handled = []
    server = make_server(handled.append, allowed_peers=("10.0.0.0/8", "192.0.2.7"))
    fake = make_fake(server)
    with caplog.at_level(logging.WARNING, logger="fs_app.server"):
        call = fake.place_call("1001")
        assert call.wait_ended(5)
    assert call.a_leg.commands == []  # closed before the app said anything
    assert handled == []
    assert server.refused_peers == 1
    assert any("refused Event Socket connection from 127.0.0.1" in r.message for r in caplog.records)


@pytest.mark.parametrize("ip,allowed", [("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),
                                        ("10.1.2.3", True), ("192.0.2.7", True), ("192.0.2.8", False),
                                        ("fd00::5", False), ("not-an-ip", False)])
def test_peer_allowed_accepts_ips_and_cidrs(ip, allowed):
    server = CallServer(lambda ch: None, allowed_peers=("127.0.0.1/32", "::1/128", "10.0.0.0/8", "192.0.2.7"))
    assert server.peer_allowed(ip) is allowed


def test_handler_exception_is_logged_and_call_failed_closed(make_server, make_fake, caplog):
    def broken(ch):
        ch.answer()
        raise RuntimeError("policy blew up")

    server = make_server(broken)
    fake = make_fake(server)
    with caplog.at_level(logging.ERROR, logger="fs_app.server"):
        call = fake.place_call("1001")
        assert call.wait_ended(5)
    assert call.a_leg.hangup_cause == "NORMAL_TEMPORARY_FAILURE"
    record = next(r for r in caplog.records if "handler failed" in r.message)
    assert call.a_leg.uuid in record.message and record.exc_info
    ok = fake.place_call("1002", script=LegScript(hangup_after=0))
    assert ok.wait_ended(5)  # still serving


def test_drain_waits_for_live_calls_and_stops_accepting(make_server, make_fake):
    server = make_server(hold_until_hangup)
    fake = make_fake(server)
    calls = [fake.place_call("1001") for _ in range(3)]  # up until their callers hang up below
    assert wait_until(lambda: server.live_calls == 3)
    drainer = gevent.spawn(server.drain, 10.0)
    assert wait_until(lambda: server.draining)
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=1).recv(1)  # listener closed: refused
    assert not drainer.ready()  # the drain waits for the live calls...
    for call in calls:
        call.a_leg.hangup()
    assert drainer.get(timeout=10) is True  # ...and ends when they have ended
    assert server.live_calls == 0
    for call in calls:
        assert call.wait_ended(5)
        assert call.a_leg.hangup_cause == "NORMAL_CLEARING"


def test_drain_timeout_hangs_up_remaining_calls(make_server, make_fake):
    server = make_server(hold_until_hangup)
    fake = make_fake(server)
    call = fake.place_call("1001")  # never hangs up by itself
    assert wait_until(lambda: server.live_calls == 1 and call.a_leg.answered)
    assert server.drain(0.1) is False
    assert call.wait_ended(5)
    assert call.a_leg.hangup_cause == "SYSTEM_SHUTDOWN"
    assert server.live_calls == 0


def test_sigterm_drains_then_serve_forever_returns(make_fake):
    # drain_timeout is an upper bound: the test ends the call once the drain has begun
    server = CallServer(hold_until_hangup, "127.0.0.1", 0, drain_timeout=30.0)
    server.start()
    handlers = server.install_signal_handlers()
    try:
        runner = gevent.spawn(server.serve_forever)
        fake = make_fake(server)
        call = fake.place_call("1001")  # up until its caller hangs up below
        assert wait_until(lambda: server.live_calls == 1)
        os.kill(os.getpid(), signal.SIGTERM)
        assert wait_until(lambda: server.draining)
        assert not runner.ready()  # draining: the live call goes on
        call.a_leg.hangup()
        runner.get(timeout=10)  # serve_forever returned after the drain
        assert call.wait_ended(1) and call.a_leg.hangup_cause == "NORMAL_CLEARING"
    finally:
        server.remove_signal_handlers()
        server.stop()


def test_a_taken_port_is_refused_with_one_line_naming_it(make_server):
    """No SO_REUSEPORT: a second server cannot join a port another one listens on."""
    first = make_server(lambda ch: ch.hangup())
    second = CallServer(lambda ch: ch.hangup(), "127.0.0.1", first.address[1])
    with pytest.raises(ListenError) as refused:
        second.start()
    message = str(refused.value)
    assert f"127.0.0.1:{first.address[1]}" in message and "already in use" in message and "\n" not in message
    assert not first.draining


def test_a_given_listening_socket_is_served_and_counted(make_fake):
    """How the workers of `fsapp serve --workers` run: on a socket bound by someone else."""
    listener = listen("127.0.0.1", 0, "the Event Socket")
    live_reports = []
    server = CallServer(lambda ch: ch.hangup(), "127.0.0.1", 0, listener=listener,
                        on_live_calls=live_reports.append)
    server.start()
    try:
        assert server.address == listener.getsockname()[:2]
        call = make_fake(server).place_call("1001")
        assert call.wait_ended(5) and call.a_leg.hangup_cause == "NORMAL_CLEARING"
        assert wait_until(lambda: live_reports[-1:] == [0])
        assert 1 in live_reports
    finally:
        server.stop()
