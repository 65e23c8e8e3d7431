"""The fake FreeSWITCH against the real transcripts in ../shared/fs-transcripts.

For each scenario a raw-socket replayer plays the *app* side of the transcript (the exact
app->fs bytes, with the transcript's uuids mapped to the fake's and the B-leg socket address
mapped to ours), pacing each command on the number of fs->app frames the real app had seen
before sending it. The fs->app frames the fake produces are then compared with the real ones:
framing (outer headers, Content-Length first for events), Content-Type, Reply-Text / api bodies,
event names and order, the order of every non-variable event header, Application /
Application-Response / Application-UUID (Event-UUID copied verbatim), selected variables, the
connect reply's complete header list, disconnect notices and the TCP close. Uuids are normalised
by order of appearance; dates, sequences, timestamps and durations are not compared.
"""

import json
import re
import socket
import time
from pathlib import Path

import gevent
import gevent.socket
import pytest

from fake_switch import FakeFreeSwitch, LegScript, Press
from fake_switch.wire import url_encode

REPO_ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = REPO_ROOT.parent / "shared" / "fs-transcripts"
SCALE = 0.05  # fake time_scale and replay pacing: a 5 s transcript replays in ~0.25 s; FreeSWITCH
# timers (sched_broadcast +1 s) then fire 50 ms after the app's next command, not 20: room for a
# stall on a shared machine

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: events whose presence in the real run depends on a race inside FreeSWITCH (README: CHANNEL_PARK)
RACY_EVENTS = {"CHANNEL_PARK"}
#: variables whose presence and (normalised) value must match on the events that carry them
KEY_VARIABLES = ("variable_pagd_digit", "variable_read_result", "variable_originate_disposition",
                 "variable_originate_failed_cause", "variable_DIALSTATUS", "variable_last_bridge_hangup_cause",
                 "variable_bridge_hangup_cause", "variable_current_application",
                 "variable_current_application_response", "variable_fsapp_parent", "variable_fsapp_role",
                 "variable_origination_caller_id_number", "variable_origination_uuid",
                 "variable_record_completion_cause", "variable_sip_invite_failure_status",
                 "variable_playback_terminators", "variable_playback_terminator_used", "variable_d",
                 "variable_endpoint_disposition")

pytestmark = pytest.mark.skipif(not TRANSCRIPTS.is_dir(), reason=f"{TRANSCRIPTS} not found")


def load(name):
    frames = []
    with open(TRANSCRIPTS / f"{name}.jsonl") as fh:
        for line in fh:
            obj = json.loads(line)
            frames.append(obj)
    return frames


def split_frames(data: bytes):
    """Independent Event Socket framing for the replayer: returns (frames, rest)."""
    frames = []
    while True:
        end = data.find(b"\n\n")
        if end < 0:
            return frames, data
        head = data[:end].decode()
        length = None
        for line in head.split("\n"):
            if line.startswith("Content-Length: "):
                length = int(line[16:])
        if length is None:
            frames.append(data[:end + 2].decode())
            data = data[end + 2:]
            continue
        if len(data) < end + 2 + length:
            return frames, data
        frames.append(data[:end + 2 + length].decode())
        data = data[end + 2 + length:]


def event_name(raw: str):
    if "Content-Type: text/event-plain" not in raw.split("\n\n", 1)[0]:
        return None
    match = re.search(r"^Event-Name: (\S+)$", raw, re.M)
    return match.group(1) if match else None


class Replayer:
    """Plays one connection's app->fs frames against the fake; collects what the fake sends.

    ``release_scheduler``: (fake, text) -- the fake's scheduler is held until the fake has
    answered the app frame containing ``text``. The real app sent its next command ~0.4 ms after
    ``sched_broadcast +1`` (05); FreeSWITCH's whole-second tick may fire a +1 almost at once, and
    here the replay's own pace must not decide which comes first."""

    def __init__(self, frames, substitutions, release_scheduler=None):
        self.frames = [f for f in frames if not (f["dir"] == "fs->app" and event_name(f["raw"]) in RACY_EVENTS)]
        self.substitutions = substitutions
        self.release_scheduler = release_scheduler
        self.received: list[str] = []
        self.eof = False
        self.error = None
        self.peer = None  # the other leg's Replayer (02a/02b share one clock)

    def _reader(self, sock):
        buf = b""
        while True:
            data = sock.recv(65536)
            if not data:
                self.eof = True
                return
            frames, buf = split_frames(buf + data)
            for raw in frames:
                if event_name(raw) in RACY_EVENTS:
                    continue
                self.received.append(raw)
                if len(self.received) == 1:
                    self.on_connect_reply(raw)

    def on_connect_reply(self, raw):
        pass

    def replies(self) -> int:
        return sum(1 for raw in self.received if "Content-Type: command/reply" in raw.split("\n\n", 1)[0]
                   or raw.startswith("Content-Type: api/response"))

    def run(self, sock):
        if self.release_scheduler is not None:
            self.release_scheduler[0].hold_scheduler()
        reader = gevent.spawn(self._reader, sock)
        seen = 0
        t0 = time.monotonic()
        start_ms = self.frames[0]["t_ms"]
        try:
            for frame in self.frames:
                if frame["dir"] == "fs->app":
                    if not frame.get("eof"):
                        seen += 1
                    continue
                deadline = time.monotonic() + 5
                while len(self.received) < seen and not self.eof and time.monotonic() < deadline:
                    gevent.sleep(0.001)
                if self.peer is not None:
                    # the real app on this leg had seen the other leg's frames up to now
                    peer_seen = sum(1 for f in self.peer.frames if f["dir"] == "fs->app" and not f.get("eof")
                                    and f["t_ms"] < frame["t_ms"])
                    while len(self.peer.received) < peer_seen and not self.peer.eof and time.monotonic() < deadline:
                        gevent.sleep(0.001)
                target = t0 + (frame["t_ms"] - start_ms) / 1000.0 * SCALE
                gevent.sleep(max(0.0, target - time.monotonic()))
                raw = frame["raw"]
                for old, new in self.substitutions.items():
                    raw = raw.replace(old, new)
                replies = self.replies()
                try:
                    sock.sendall(raw.encode())
                except OSError:
                    pass  # 04b: the app writes into a socket FreeSWITCH already closed
                if self.release_scheduler is not None and self.release_scheduler[1] in raw:
                    while self.replies() == replies and not self.eof and time.monotonic() < deadline + 5:
                        gevent.sleep(0.001)
                    self.release_scheduler[0].release_scheduler()
            reader.join(timeout=5)
        except Exception as exc:  # surfaced by the test
            self.error = exc
        finally:
            reader.kill()
            sock.close()

    def expected(self):
        out = [f["raw"] for f in self.frames if f["dir"] == "fs->app" and not f.get("eof")]
        return out, any(f.get("eof") for f in self.frames)


def parse_block(block: str):
    return [tuple(line.split(": ", 1)) if ": " in line else (line.rstrip(":"), "")
            for line in block.split("\n") if line]


class Normaliser:
    """Replaces uuids by <uuidN> in order of first appearance."""

    def __init__(self, fixed=None):
        self.map = dict(fixed or {})

    def __call__(self, text: str) -> str:
        text = re.sub(r"127\.0\.0\.1(%3A|:)\d+", "<socket>", text)

        def sub(match):
            value = match.group(0)
            if value not in self.map:
                self.map[value] = f"<uuid{len(self.map)}>"
            return self.map[value]
        return UUID_RE.sub(sub, text)


def shape(raw: str, norm: Normaliser, call_id: str | None):
    head, _, body = raw.partition("\n\n")
    outer = parse_block(head)
    names = [n for n, _ in outer]
    headers = dict(outer)
    content_type = headers.get("Content-Type")
    if headers.get("Event-Name") == "CHANNEL_DATA":
        tail = [(n, v) for n, v in outer if n in ("Content-Type", "Reply-Text", "Socket-Mode", "Control")]
        return ("connect-reply", tuple(names), tuple(tail), norm(headers["Unique-ID"]))
    if content_type == "command/reply":
        text = headers.get("Reply-Text", "")
        if call_id and text == call_id:
            text = "<sip_call_id>"
        return ("reply", tuple(names), norm(text), norm(headers.get("Job-UUID", "")))
    if content_type == "api/response":
        return ("api", tuple(names), norm(body))
    if content_type == "text/disconnect-notice":
        return ("notice", tuple(names), headers.get("Content-Disposition"), headers.get("Linger-Time"), body)
    if content_type == "text/event-plain":
        assert names == ["Content-Length", "Content-Type"], names  # Content-Length FIRST
        assert int(headers["Content-Length"]) == len(body.encode())
        ev_head, _, ev_body = body.partition("\n\n")
        ev = parse_block(ev_head)
        ev_names = tuple(n for n, _ in ev if not n.startswith("variable_"))
        values = {}
        for n, v in ev:
            values.setdefault(n, v)
        key = {n: norm(values[n]) for n in KEY_VARIABLES if n in values}
        if "Content-Length" in values:
            assert int(values["Content-Length"]) == len(ev_body.encode())
        return ("event", values["Event-Name"], values.get("Application"), values.get("Application-Response"),
                norm(values.get("Application-UUID", "")), norm(values.get("Application-Data", "")),
                values.get("Hangup-Cause"), values.get("Answer-State"), values.get("Channel-State"),
                values.get("Other-Type"), norm(values.get("Bridge-A-Unique-ID", "")),
                ev_names, tuple(sorted(key.items())), norm(ev_body),
                [n for n, _ in ev].count("Hangup-Cause"))
    return ("other", tuple(names))


def compare(expected_frames, expected_eof, replayer, call_id_real, call_id_fake, fixed=None):
    """Events and notices must come in the real order; replies in the real order among
    themselves (how a reply interleaves with events is a timing race, README "Timing")."""
    norm_real, norm_fake = Normaliser(fixed), Normaliser(fixed)
    real = [shape(f, norm_real, call_id_real) for f in expected_frames]
    fake = [shape(f, norm_fake, call_id_fake) for f in replayer.received]
    for label, kinds in (("events", ("event", "notice", "connect-reply", "other")), ("replies", ("reply", "api"))):
        real_part = [s for s in real if s[0] in kinds]
        fake_part = [s for s in fake if s[0] in kinds]
        names_real = [s[1] if s[0] == "event" else s[0] for s in real_part]
        names_fake = [s[1] if s[0] == "event" else s[0] for s in fake_part]
        assert names_fake == names_real, f"{label} sequence differs:\nfake {names_fake}\nreal {names_real}"
        for i, (r, f) in enumerate(zip(real_part, fake_part)):
            if f != r:
                fields = [(k, fv, rv) for k, (fv, rv) in enumerate(zip(f, r)) if fv != rv]
                detail = []
                for k, fv, rv in fields:
                    if isinstance(fv, tuple) and isinstance(rv, tuple):
                        detail.append((k, "fake-only", [x for x in fv if x not in rv],
                                       "real-only", [x for x in rv if x not in fv]))
                    else:
                        detail.append((k, fv, rv))
                pytest.fail(f"{label} frame {i} ({names_real[i]}) differs: {detail}")
    assert replayer.eof == expected_eof


def call_kwargs_from(connect_reply: str):
    headers = parse_block(connect_reply.split("\n\n", 1)[0])
    from urllib.parse import unquote
    values = {n: unquote(v) for n, v in headers}
    return dict(
        destination=values["Caller-Destination-Number"], caller=values["Caller-Caller-ID-Number"],
        uuid=values["Unique-ID"],
        sip_headers={n[len("variable_sip_h_"):]: unquote(v) for n, v in headers if n.startswith("variable_sip_h_")},
        variables={n[len("variable_"):]: unquote(v) for n, v in headers
                   if n.startswith("variable_app_") or n in ("variable_hangup_after_bridge", "variable_continue_on_fail")},
    ), values.get("variable_sip_call_id")


class Listener:
    def __init__(self):
        self.sock = gevent.socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = self.sock.getsockname()

    def accept(self):
        conn, _ = self.sock.accept()
        return conn

    def close(self):
        self.sock.close()


# The far ends act on the transcripts' moments, not at a time since the call began: the replay's
# pace (a busy machine) must not move a BYE before the prompt it came during.
SINGLE_LEG = {
    "01-basic": dict(script=LegScript(presses=[Press("1", 1.6)]),  # 1.6 s into play_and_get_digits
                     callee_scripts={"1001": LegScript(hangup_after=1.0, hangup_relative_to="bridge")}),
    "01b-no-event-lock-nesting": {},
    "03-failures": dict(callee_scripts={"3486": LegScript(outcome="busy"), "3408": LegScript(outcome="no_answer"),
                                        "3603": LegScript(outcome="reject"),
                                        "3404": LegScript(outcome="unallocated"),
                                        "3503": LegScript(outcome="unreachable")}),
    # the caller's BYE 2.49 s into the 40 s playback
    "04a-caller-hangup-during-playback-linger": dict(script=LegScript(hangup_after=2.49,
                                                                      hangup_relative_to="execute:playback")),
    "04b-caller-hangup-during-playback-nolinger": dict(script=LegScript(hangup_after=2.49,
                                                                        hangup_relative_to="execute:playback")),
    "05a-record-sched-hangup-sendmsg": {},
    "05b-record-sched-hangup-api": {},
    # pre_answer, ringback, originate; the callee answers 486: hangup USER_BUSY on the early leg
    "07b-early-media-busy-A": dict(callee_scripts={"callee": LegScript(outcome="busy")}),
}
#: scenarios whose FreeSWITCH timers start once the fake answered the app's frame with this text
SCHEDULER_HELD_UNTIL = {"05a-record-sched-hangup-sendmsg": "sched_hangup", "05b-record-sched-hangup-api": "sched_hangup"}


@pytest.mark.parametrize("name", sorted(SINGLE_LEG))
def test_single_leg_transcript(name):
    frames = load(name)
    kwargs, call_id_real = call_kwargs_from(frames[1]["raw"])
    listener = Listener()
    fake = FakeFreeSwitch(*listener.address, time_scale=SCALE)
    held_until = SCHEDULER_HELD_UNTIL.get(name)
    replayer = Replayer(frames, {}, release_scheduler=(fake, held_until) if held_until else None)
    try:
        accept = gevent.spawn(listener.accept)
        call = fake.place_call(**kwargs, **SINGLE_LEG[name])
        conn = accept.get(timeout=5)
        replayer.run(conn)
        assert replayer.error is None, replayer.error
        assert call.wait_ended(5)
        expected, eof = replayer.expected()
        compare(expected, eof, replayer, call_id_real, call.a_leg.variables["sip_call_id"])
    finally:
        fake.close()
        listener.close()


def test_connect_reply_reproduces_the_real_header_set_and_encoding():
    """01's connect reply, rebuilt by the fake, differs from the real bytes only where it must."""
    frames = load("01-basic")
    kwargs, _ = call_kwargs_from(frames[1]["raw"])
    listener = Listener()
    fake = FakeFreeSwitch(*listener.address)
    try:
        accept = gevent.spawn(listener.accept)
        call = fake.place_call(**kwargs)
        conn = accept.get(timeout=5)
        conn.sendall(b"connect\n\n")
        data = b""
        while b"Control: full\n\n" not in data:
            data += conn.recv(65536)
        real = parse_block(frames[1]["raw"].split("\n\n")[0])
        ours = parse_block(data.decode().split("\n\n")[0])
        assert [n for n, _ in ours] == [n for n, _ in real]
        volatile = re.compile(r"(Date|Time|Timestamp|stamp|Sequence|Core-UUID|session_id|sip_call_id|socket_host|"
                              r"current_application_data)")
        for (name, value), (_, real_value) in zip(ours, real):
            if not volatile.search(name):
                assert value == real_value, name
        assert "Content-Length" not in dict(ours)
        call.a_leg.hangup()
    finally:
        fake.close()
        listener.close()


def test_url_encoding_matches_freeswitch():
    assert url_encode("tone_stream://%(500,500,440);loops=2") == "tone_stream%3A//%25(500,500,440)%3Bloops%3D2"
    assert url_encode("Mon, 23 Nov 2026 18:24:41 GMT") == "Mon,%2023%20Nov%202026%2018%3A24%3A41%20GMT"
    assert url_encode("+OK\n") == "%2BOK%0A"
    assert url_encode("'&socket(127.0.0.1:8085 async full)'") == "'%26socket(127.0.0.1%3A8085%20async%20full)'"


TWO_LEG = {
    # 02a: the callee's BYE 2.53 s after the bridge; 02b: the caller's, 4.77 s after it
    "02a-two-legs": dict(a=dict(), callee={"2002": LegScript(presses=[Press("1", 1.7)], hangup_after=2.53,
                                                             hangup_relative_to="bridge")}),
    "02b-two-legs": dict(a=dict(script=LegScript(hangup_after=4.77, hangup_relative_to="bridge")),
                         callee={"2003": LegScript(presses=[Press("1", 1.7)])}),
    # 07: the agent leg only pre-answered; the callee answers after 1.0 s and hangs up 3.92 s after
    # the bridge; uuid_bridge answers the early A leg by itself
    "07-early-media-uuid-bridge": dict(a=dict(), callee={"callee": LegScript(answer_after=1.0, hangup_after=3.92,
                                                                             hangup_relative_to="bridge")}),
}


@pytest.mark.parametrize("name", sorted(TWO_LEG))
def test_two_leg_transcripts(name):
    frames_a = load(f"{name}-A")
    frames_b = load(f"{name}-B")
    kwargs, call_id_real = call_kwargs_from(frames_a[1]["raw"])
    real_b_uuid = parse_block(frames_b[1]["raw"].split("\n\n")[0])
    real_b_uuid = dict(real_b_uuid)["Unique-ID"]
    listener_a, listener_b = Listener(), Listener()
    b_address = "%s:%d" % listener_b.address
    fake = FakeFreeSwitch(*listener_a.address, time_scale=SCALE)
    replayer_a = Replayer(frames_a, {"127.0.0.1:8085": b_address})
    replayer_b = Replayer(frames_b, {})

    def learn_b_uuid(raw):
        fake_b_uuid = dict(parse_block(raw.split("\n\n")[0]))["Unique-ID"]
        replayer_b.substitutions[real_b_uuid] = fake_b_uuid
        replayer_b.fake_b_uuid = fake_b_uuid
    replayer_b.on_connect_reply = learn_b_uuid
    replayer_a.peer, replayer_b.peer = replayer_b, replayer_a
    try:
        accept_a = gevent.spawn(listener_a.accept)
        accept_b = gevent.spawn(listener_b.accept)
        call = fake.place_call(**kwargs, callee_scripts=TWO_LEG[name]["callee"], **TWO_LEG[name]["a"])
        run_a = gevent.spawn(replayer_a.run, accept_a.get(timeout=5))
        run_b = gevent.spawn(replayer_b.run, accept_b.get(timeout=5))
        gevent.joinall([run_a, run_b], timeout=10, raise_error=True)
        assert replayer_a.error is None and replayer_b.error is None
        assert call.wait_ended(5)
        # the same uuid placeholders on both legs: A first, then B
        fixed = {kwargs["uuid"]: "<A>"}
        expected_a, eof_a = replayer_a.expected()
        compare(expected_a, eof_a, replayer_a, call_id_real, call.a_leg.variables["sip_call_id"],
                fixed={**fixed, real_b_uuid: "<B>", replayer_b.fake_b_uuid: "<B>"})
        expected_b, eof_b = replayer_b.expected()
        compare(expected_b, eof_b, replayer_b, None, None,
                fixed={**fixed, real_b_uuid: "<B>", replayer_b.fake_b_uuid: "<B>"})
        # B's connection reached the app before A got the BACKGROUND_JOB
        b_leg = call.callee_legs[0]
        job_at = next(t for t, d, data in call.a_leg.connection.frames
                      if d == "fs->app" and b"Event-Name: BACKGROUND_JOB" in data)
        assert b_leg.connection.connected_at < job_at
    finally:
        fake.close()
        listener_a.close()
        listener_b.close()


#: 08: an answered callee-like leg (originated over inbound ESL) hears a 4 s file; the far end
#: presses 9 about 1.65 s after the answer (1.6 s into the prompt)
DIGIT_DURING_PROMPT = ("08a-digits-during-playback-B", "08b-digits-during-pagd-B", "08c-playback-terminators-B")


@pytest.mark.parametrize("name", DIGIT_DURING_PROMPT)
def test_digit_during_prompt_transcripts(name):
    frames = load(name)
    inbound = load("08a-digits-during-playback-inbound")
    originate = next(f["raw"] for f in inbound if f["dir"] == "app->fs" and f["raw"].startswith("bgapi originate"))
    real_uuid = dict(parse_block(frames[1]["raw"].split("\n\n")[0]))["Unique-ID"]
    listener = Listener()
    b_address = "%s:%d" % listener.address
    command = originate.strip()[len("bgapi "):].replace("127.0.0.1:8085", b_address)
    command = re.sub(r"origination_uuid=[0-9a-f-]+", f"origination_uuid={real_uuid}", command)
    fake = FakeFreeSwitch(*listener.address, time_scale=SCALE,
                          default_callee=LegScript(file_seconds=4.0, presses=[Press("9", 1.65, "answer")]))
    replayer = Replayer(frames, {})
    try:
        accept = gevent.spawn(listener.accept)
        originate_job = gevent.spawn(fake.api, command)
        conn = accept.get(timeout=5)
        replayer.run(conn)
        assert replayer.error is None, replayer.error
        assert originate_job.get(timeout=5) == f"+OK {real_uuid}\n"
        leg = fake.legs[real_uuid]
        assert leg.call.wait_ended(5)
        expected, eof = replayer.expected()
        compare(expected, eof, replayer, None, None, fixed={real_uuid: "<B>"})
    finally:
        fake.close()
        listener.close()
