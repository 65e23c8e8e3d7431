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
from fake_switch import FakeInboundEventSocket
from domain.clock import utcnow

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


@pytest.mark.skipif(not TRANSCRIPT.exists(), reason=f"{TRANSCRIPT} not found")
def test_a_live_channel_is_listed_and_killed_like_in_transcript_06():
    """06 with its call up: `show channels as json` lists it (compact, no trailing newline, the
    row's fields in FreeSWITCH's order), `api uuid_kill` answers +OK, the same kill again
    -ERR No such channel!, byte for byte."""
    recorded = frames()
    password = recorded[1]["raw"].split()[1]
    replies = {}
    for index, frame in enumerate(recorded):
        if frame["dir"] == "app->fs":
            replies.setdefault(frame["raw"], []).append(recorded[index + 1]["raw"].encode())
    listing_command = next(f["raw"] for f in recorded if f["raw"].startswith("api show channels"))
    kill_command = next(f["raw"] for f in recorded if f["raw"].startswith("api uuid_kill"))
    real_listing = replies[listing_command][1]
    real_row = json.loads(real_listing.split(b"\n\n", 1)[1])["rows"][0]
    fake = FakeInboundEventSocket(password)
    sock = socket.create_connection(fake.address, timeout=10)
    try:
        buffer = b""
        _greeting, buffer = read_frame(sock, buffer)
        sock.sendall(recorded[1]["raw"].encode())
        _accepted, buffer = read_frame(sock, buffer)
        fake.add_channel(DEAD_UUID, cid_num="caller1", dest="echo6006")
        sock.sendall(listing_command.encode())
        listing, buffer = read_frame(sock, buffer)
        head, body = listing.split(b"\n\n", 1)
        assert head == real_listing.split(b"\n\n", 1)[0].split(b"\nContent-Length")[0] + \
            b"\nContent-Length: " + str(len(body)).encode()
        assert not body.endswith(b"\n") and b", " not in body and b'": ' not in body
        document = json.loads(body)
        assert document["row_count"] == 1 and list(document["rows"][0]) == list(real_row)
        assert document["rows"][0]["uuid"] == DEAD_UUID and document["rows"][0]["callstate"] == "ACTIVE"
        for expected in replies[kill_command]:  # +OK while it is up, then -ERR No such channel!
            sock.sendall(kill_command.encode())
            got, buffer = read_frame(sock, buffer)
            assert got == expected
        assert fake.killed == [(DEAD_UUID, "NORMAL_CLEARING")]
        sock.sendall(listing_command.encode())
        empty, buffer = read_frame(sock, buffer)
        assert empty == replies[listing_command][0]  # {"row_count": 0}\n again
    finally:
        sock.close()
        fake.close()


def test_the_client_kills_with_a_cause_and_tells_a_dead_uuid():
    fake = FakeInboundEventSocket("pw")
    uuid = fake.add_channel()
    client = InboundEventSocket(*fake.address, "pw", timeout=2)
    try:
        assert client.api(f"uuid_kill {uuid} MANAGER_REQUEST") == "+OK\n"
        assert client.api(f"uuid_kill {uuid} MANAGER_REQUEST") == "-ERR No such channel!\n"
        assert fake.killed == [(uuid, "MANAGER_REQUEST")]
    finally:
        client.close()
        fake.close()
