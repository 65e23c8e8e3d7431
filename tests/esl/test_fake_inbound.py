"""The fake inbound Event Socket against fs-transcripts/06-inbound-esl, and the client that uses it.

A raw socket plays the app's side of 06 (the frames that need no live channel) and the fake's
answers are compared byte for byte with FreeSWITCH's: auth/request, +OK accepted, the event
subscription reply, the empty channel list, uuid_kill and sendmsg on a dead uuid, +OK bye, the
inbound disconnect notice and the close."""
from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fs_app.inbound_esl import EslAuthError, EslError, InboundEventSocket
from fs_app.registrations import parse_xmlstatus, registration_status
from fs_app.testing import FakeInboundEventSocket
from models.clock import utcnow

TRANSCRIPT = Path(__file__).resolve().parents[2].parent / "shared" / "fs-transcripts" / "06-inbound-esl.jsonl"
DEAD_UUID = "d07d1d9c-686f-4485-829c-5eb0d0e809d3"


def frames():
    return [json.loads(line) for line in TRANSCRIPT.read_text().splitlines()]


def read_frame(sock, buffer: bytes) -> tuple[bytes, bytes]:
    """One frame (header block + Content-Length body), framed independently of the code under test."""
    while b"\n\n" not in buffer:
        data = sock.recv(65536)
        assert data, "closed before a frame"
        buffer += data
    head, rest = buffer.split(b"\n\n", 1)
    length = 0
    for line in head.split(b"\n"):
        if line.startswith(b"Content-Length: "):
            length = int(line[16:])
    while len(rest) < length:
        rest += sock.recv(65536)
    return head + b"\n\n" + rest[:length], rest[length:]


@pytest.mark.skipif(not TRANSCRIPT.exists(), reason=f"{TRANSCRIPT} not found")
def test_the_fake_answers_like_freeswitch_in_transcript_06():
    recorded = frames()
    password = recorded[1]["raw"].split()[1]  # the capture's password, as the app sent it
    fake = FakeInboundEventSocket(password)
    # the app's commands of 06 that need no live channel, each with FreeSWITCH's replies to it
    plan, expected = [], {}
    for index, frame in enumerate(recorded):
        if frame["dir"] != "app->fs":
            continue
        line = frame["raw"].split("\n", 1)[0]
        replies = []
        for reply in recorded[index + 1:]:
            if reply["dir"] == "app->fs":
                break
            if not reply.get("eof") and "text/event-plain" not in reply["raw"].split("\n\n", 1)[0]:
                replies.append(reply["raw"].encode())
        first_listing = line == "api show channels as json" and line not in plan  # 0 rows then
        on_dead_uuid = DEAD_UUID in line and b"-ERR" in b"".join(replies)
        if line.startswith(("auth ", "event ", "exit")) or first_listing or on_dead_uuid:
            plan.append(line)
            expected[len(plan) - 1] = (frame["raw"].encode(), replies)
    assert [p.split(" ")[0] for p in plan] == ["auth", "event", "api", "api", "sendmsg", "exit"]
    sock = socket.create_connection(fake.address, timeout=10)
    try:
        buffer = b""
        greeting, buffer = read_frame(sock, buffer)
        assert greeting == recorded[0]["raw"].encode()  # Content-Type: auth/request
        for index in range(len(plan)):
            command, replies = expected[index]
            sock.sendall(command)
            for reply in replies:
                got, buffer = read_frame(sock, buffer)
                assert got == reply, (command, got, reply)
        assert sock.recv(65536) == b""  # FreeSWITCH closes right after the disconnect notice
    finally:
        sock.close()
        fake.close()


def test_the_client_reads_registrations_and_reconnects_after_a_stall():
    fake = FakeInboundEventSocket("s3cret")
    fake.register("1001", "acme.pbx.example.com", agent='Yealink SIP-T46U "office" <&>', expires_in=1800,
                  network_ip="192.0.2.7", network_port="5062")
    client = InboundEventSocket(*fake.address, "s3cret", timeout=2.0)
    try:
        status = registration_status(type("S", (), {"sip_profile": "internal"})(), client)
        assert status.known
        (registration,) = status.of("1001@ACME.pbx.example.com")
        assert registration.agent == 'Yealink SIP-T46U "office" <&>'
        assert registration.contact == '"1001" <sip:1001@192.0.2.7:5062>'
        assert registration.status == "Registered(UDP)"
        assert abs((registration.expires_at - utcnow()).total_seconds() - 1800) < 5
        fake.hold()  # FreeSWITCH stuck: the command gives up at its deadline ...
        with pytest.raises(EslError, match="no answer"):
            client.api("status", timeout=0.2)
        fake.release()  # ... and the next one works on a new connection
        assert client.api("status").startswith("UP")
        assert fake.commands.count("auth s3cret") == 2
    finally:
        client.close()
        fake.close()


def test_a_wrong_password_and_an_absent_switch_are_one_line_errors():
    fake = FakeInboundEventSocket("right")
    try:
        with pytest.raises(EslAuthError, match="refused the password"):
            InboundEventSocket(*fake.address, "wrong", timeout=2.0).api("status")
    finally:
        fake.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    status = registration_status(type("S", (), {"sip_profile": "internal", "inbound_esl_address": ("127.0.0.1", port),
                                                "esl_password": "x", "inbound_esl_timeout_s": 1.0})())
    assert not status.known and "cannot reach" in status.note and status.of("1001@a.example") == []


def test_unexpected_answers_are_errors_not_crashes():
    with pytest.raises(EslError, match="Invalid Profile"):
        parse_xmlstatus("Invalid Profile!\n", utcnow())
    with pytest.raises(EslError, match="unreadable"):
        parse_xmlstatus('<?xml version="1.0"?>\n<profile><registrations>', utcnow())
    assert parse_xmlstatus('<?xml version="1.0"?>\n<profile>\n  <registrations>\n  </registrations>\n</profile>\n',
                           utcnow()) == []
