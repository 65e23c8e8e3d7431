"""A fake FreeSWITCH that speaks the outbound Event Socket protocol like FreeSWITCH 1.10.12.

It is the TCP *client*: for every channel it connects to the app's socket, waits for
``connect`` and answers with the channel data, then answers commands and emits events the way
the real switch does in ../shared/fs-transcripts (frame layout, header order, url-encoding,
event order at hangup, event-lock and Event-UUID semantics, uuid_bridge, BACKGROUND_JOB,
linger/no-linger, static single-channel sockets for an unquoted ``&socket(...)``).

Scripting: every leg has a :class:`LegScript` (alias :class:`CalleeScript`) saying what the
far end does: answer after a delay or fail (busy, no answer, reject, unallocated, unreachable),
press digits, hang up, drop the socket or send garbage on a given command. Far-end actions are
anchored on *moments* of the call (:data:`MOMENTS`): a key is pressed N seconds into the
play_and_get_digits that asks for it, a callee hangs up N seconds after it was bridged or after
a given app started on its leg, so a script means the same thing however long the app takes to
get there. The agent/caller leg gets its script with ``place_call(..., script=...)``; callee legs
are looked up by dialled number in ``callee_scripts`` (else ``default_callee``). Tests wait on
the same moments with :meth:`FakeCall.wait_for`.

Time: ``tick`` is FreeSWITCH's 20 ms media tick. A ``sendmsg`` (an application to execute, a
hangup) is taken up on the channel's next tick, and each further burst of events an application
causes waits one more tick: every transcript shows ~20.5-21.3 ms from a sendmsg to its
CHANNEL_EXECUTE (or CHANNEL_HANGUP), and pre_answer / answer complete one tick after they start.
``api`` and ``bgapi`` are run at once by the socket's own thread (an ``api`` reply comes in
~0.5 ms; the originate's INVITE leaves ~3 ms after the bgapi, 07). The tick defaults to 20 ms of
real time at time_scale 1 and is scaled like every other duration (0.2 ms at time_scale 0.01);
``realistic=True`` keeps it at 20 ms whatever the scale. ``time_scale`` multiplies every *media* or
*far-end* duration (tone lengths, ringing, digit delays, hangup_after, sched_* seconds, linger N)
so tests can play a 2 s tone in 20 ms; these delays run on the monotonic clock. Wall-clock
*values* on the wire (Event-Date-*, Caller-Channel-*-Time, *_epoch variables) come from the
process's one clock (``models.clock``), so they agree with the app's ``utcnow()`` under a pinned
test clock. FreeSWITCH's scheduler (sched_hangup, sched_broadcast) can be held still
(:meth:`FakeFreeSwitch.hold_scheduler`): at time_scale 0.01 a two-minute duration limit is 1.2 s,
less than the app may need to prompt and bridge on a busy machine.
"""

from __future__ import annotations

import itertools
import logging
import re
import socket as stdlib_socket
import time
import uuid as uuid_module
from dataclasses import dataclass, field
from typing import Iterable

import gevent
import gevent.socket
from gevent.event import Event as GeventEvent
from gevent.lock import Semaphore

from . import fs_templates
from .wire import (CommandParser, api_response, clock_us, command_reply, disconnect_notice, event_date_headers,
                   event_plain, linger_notice, url_encode)

log = logging.getLogger(__name__)

STATE_NUMBERS = {"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
                 "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
                 "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12}

#: outcome -> (hangup cause, DIALSTATUS, SIP status, SIP phrase); see fs-transcripts 03.
FAILURES = {
    "busy": ("USER_BUSY", "BUSY", "486", "Busy Here"),
    "no_answer": ("NO_ANSWER", "NOANSWER", None, None),
    "reject": ("CALL_REJECTED", "DONTCALL", "603", "Decline"),
    "unallocated": ("UNALLOCATED_NUMBER", "UNALLOCATED_NUMBER", "404", "Not Found"),
    "unreachable": ("NORMAL_TEMPORARY_FAILURE", "NORMAL_TEMPORARY_FAILURE", "503", "Service Unavailable"),
}
#: seconds (before time_scale) a failing SIP answer takes to come back (41 ms in 03)
FAILURE_DELAY = 0.04
#: FreeSWITCH's media tick (seconds at time_scale 1): a sendmsg waits for the channel's next one
FS_TICK = 0.02
#: playback_terminators when the channel has none (mod_dptools on_dtmf); "any" stands for all keys
DEFAULT_PLAYBACK_TERMINATORS = "*"
ANY_KEY = "1234567890*#"

_TEMPLATE_A_UUID = "5d660a80-a021-42c7-adef-2441f6c60b13"
_TEMPLATE_B_UUID = "e3b3d28a-b288-46aa-baa9-27aac8df7126"
_TEMPLATE_B_PARENT = "556513ed-c4aa-48cc-869f-be3a8a2feabd"
_TEMPLATE_B_CID = "+862012345678"
_TONE_RE = re.compile(r"%\(([\d,]+)\)")
_LOOPS_RE = re.compile(r"loops=(-?\d+)")


#: Moments of a call that far-end actions (``LegScript.hangup_after``, :class:`Press`) count from
#: and tests wait on (:meth:`FakeCall.wait_for`). A plain name is a moment of the scripted leg
#: itself; ``"a-leg:<moment>"`` is one of the call's first leg (the channel the dialplan handed to
#: the app: the agent's or the caller's), ``"b-leg:<moment>"`` one of its other legs (originated
#: callees, bridged seats; the first to get there). Each moment counts once, the first time.
MOMENTS = {
    "connect": "the leg's Event Socket connection to the app is up",
    "answer": "the leg answered (an originated leg arrives answered)",
    "bridge": "the leg was bridged: its uuid_bridge events went out, or the bridge app joined it",
    "broadcast": "uuid_broadcast / sched_broadcast queued something to play to the leg",
    "execute:<app>": "the leg started <app> for the first time (CHANNEL_EXECUTE; e.g. execute:playback)",
    "complete:<app>": "the leg's first <app> ended (CHANNEL_EXECUTE_COMPLETE)",
    "hangup": "the leg's hangup is over (CHANNEL_HANGUP_COMPLETE sent)",
}
LEG_PREFIXES = ("a-leg:", "b-leg:")


@dataclass
class Press:
    """One keypress of the far end. ``digit=None`` means: stay silent for this prompt.

    ``relative_to="prompt"``: ``after`` seconds after the play_and_get_digits that asks for it
    starts (each play_and_get_digits consumes the next "prompt" Press, so the key answers the
    prompt it is meant for however late the app asks); any other value is a moment
    (:data:`MOMENTS`), e.g. ``"answer"``: ``after`` seconds after the leg answered.
    """
    digit: str | None
    after: float = 0.0
    relative_to: str = "prompt"


@dataclass
class LegScript:
    """What the far end of a leg does. All durations are multiplied by the fake's time_scale."""
    outcome: str = "answer"  # answer | busy | no_answer | reject | unallocated | unreachable
    answer_after: float = 0.0  # ringing time before the answer (originate / bridge)
    ring_seconds: float | None = None  # for no_answer: default is the originate_timeout variable
    presses: list[Press] = field(default_factory=list)
    hangup_after: float | None = None  # far end hangs up this long after ``hangup_relative_to``
    # the moment hangup_after counts from (MOMENTS): "answer", or e.g. "bridge" for a callee who
    # talks that long once connected, "execute:playback" for one who hangs up during the first prompt
    hangup_relative_to: str = "answer"
    abandon_after: float | None = None  # the first leg's far end hangs up this long after its socket connected
    hangup_cause: str = "NORMAL_CLEARING"
    file_seconds: float = 0.2  # length of any non-tone file played to this leg
    drop_socket_on: str | None = None  # "api", "bgapi", "sendmsg", "execute:<app>", "getvar", ...
    garbage_on: str | None = None  # same keys; answers with ``garbage`` instead of a reply
    garbage: bytes = b"Content-Type: command/reply\nContent-Length: banana\n\n"


CalleeScript = LegScript


class _AppRun:
    """A running application on a leg (for nesting, interruption and hangup ordering)."""

    def __init__(self, name: str, arg: str | None, app_uuid: str | None):
        self.name = name
        self.arg = arg
        self.app_uuid = app_uuid
        self.stop_reason: str | None = None
        self.wake = GeventEvent()
        self.done = GeventEvent()

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
        self.wake.set()


class FakeConnection:
    """One outbound Event Socket connection from the fake to the app."""

    def __init__(self, fs: "FakeFreeSwitch", leg: "FakeLeg", address: tuple[str, int],
                 socket_mode: str = "async", control: str = "full"):
        self.fs = fs
        self.leg = leg
        self.address = address
        self.socket_mode = socket_mode
        self.control = control
        self.frames: list[tuple[float, str, bytes]] = []
        self.myevents = False
        self.subscriptions: set[str] = set()
        self.linger: int | None = None
        self.connected_at: float | None = None
        self.connect_command_at: float | None = None
        self.connect_received = GeventEvent()
        self.writes_received = 0  # socket reads that brought commands (~ the app's writes)
        self.closed = GeventEvent()
        self.close_reason = ""
        self._sock = None
        self._wlock = Semaphore()
        self._held: list[bytes] | None = None
        self._reader = None

    # -- transport
    def open(self) -> None:
        host, port = self.address[:2]
        try:  # a numeric address connects directly (create_connection would resolve it in a thread)
            family = stdlib_socket.AF_INET6 if ":" in host else stdlib_socket.AF_INET
            stdlib_socket.inet_pton(family, host)
        except OSError:
            sock = gevent.socket.create_connection(self.address, timeout=5)
        else:
            sock = gevent.socket.socket(family, stdlib_socket.SOCK_STREAM)
            sock.settimeout(5)
            try:
                sock.connect((host, port))
            except OSError:
                sock.close()
                raise
        sock.settimeout(None)
        sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        self._sock = sock
        self.connected_at = time.monotonic()
        self._reader = gevent.spawn(self._read_loop)
        self.leg.reached("connect")

    def _record(self, direction: str, data: bytes) -> None:
        if self.fs.record_frames:
            self.frames.append((time.monotonic(), direction, data))

    def send(self, data: bytes) -> bool:
        if self.closed.is_set() or self._sock is None:
            return False
        if self._held is not None:
            self._held.append(data)
            return True
        with self._wlock:
            try:
                self._sock.sendall(data)
            except OSError as exc:
                self._closed(f"send failed: {exc}")
                return False
        self._record("fs->app", data)
        return True

    def close(self, reason: str = "closed by FreeSWITCH") -> None:
        if self.closed.is_set():
            return
        if self._sock is None:
            self._closed(reason)
            return
        with self._wlock:
            try:
                self._sock.shutdown(stdlib_socket.SHUT_RDWR)
            except OSError:
                pass
            self._sock.close()
        self._closed(reason)

    def _closed(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self._record("fs->app", b"")  # EOF marker
            self.closed.set()
            self.leg._connection_closed(self)

    def _read_loop(self) -> None:
        parser = CommandParser()
        try:
            while True:
                try:
                    data = self._sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._closed("closed by the app")
                    try:
                        self._sock.close()
                    except OSError:
                        pass
                    return
                commands = parser.feed(data)
                if commands:
                    self.writes_received += 1  # one write of the app: it waits for the replies
                for line, headers, body, raw in commands:
                    self._record("app->fs", raw)
                    self.leg.commands.append(line)
                    self._on_command(line, headers)
                    if self.closed.is_set():
                        return
        except gevent.GreenletExit:
            raise
        except Exception:
            log.exception("fake FreeSWITCH: command handling failed on %s", self.leg.uuid)
            self.close("fake failure")

    # -- event filter (myevents: own Unique-ID; BACKGROUND_JOB only when subscribed and owned)
    def wants(self, event_name: str) -> bool:
        if self.socket_mode == "static" and self._held is None:
            return False  # static sockets only see the events of a running sendmsg (02x)
        if event_name == "BACKGROUND_JOB":
            return "BACKGROUND_JOB" in self.subscriptions or "ALL" in self.subscriptions
        return self.myevents or event_name in self.subscriptions or "ALL" in self.subscriptions

    # -- commands
    def _script_action(self, key: str) -> str | None:
        script = self.leg.script
        if script.drop_socket_on == key:
            return "drop"
        if script.garbage_on == key:
            return "garbage"
        return None

    def _on_command(self, line: str, headers: dict[str, str]) -> None:
        word, _, rest = line.partition(" ")
        key = word
        if word == "sendmsg" and headers.get("call-command") == "execute":
            key = "execute:" + headers.get("execute-app-name", "")
        action = self._script_action(key) or self._script_action(word)
        if action == "drop":
            self.leg.socket_dropped = True
            self.close("dropped by script")
            return
        if action == "garbage":
            self.send(self.leg.script.garbage)
            return
        leg = self.leg
        full = self.control == "full"
        if key in ("execute:bridge", "bgapi") and (word == "sendmsg" or rest.startswith("originate")):
            leg.call.note_callee_command()  # admission latency ends at the *receipt* of the command
        if word == "connect":
            self.connect_command_at = time.monotonic()
            self.send(leg.connect_reply(self.socket_mode, self.control))
            self.connect_received.set()
        elif word == "myevents":
            self.myevents = True
            self.send(command_reply("+OK Events Enabled"))
        elif word == "event":
            names = rest.split()
            if names and names[0] in ("plain", "json", "xml"):
                names = names[1:]
            self.subscriptions.update(names)
            self.send(command_reply("+OK event listener enabled plain"))
        elif word == "linger":
            if not full:
                self.send(command_reply("-ERR command not found"))
            elif rest.strip():
                self.linger = int(rest.strip())
                self.send(command_reply(f"+OK will linger {self.linger} seconds"))
            else:
                self.linger = -1
                self.send(command_reply("+OK will linger"))
        elif word == "nolinger":
            self.linger = None
            self.send(command_reply("+OK will not linger"))
        elif word == "exit":
            self.send(command_reply("+OK bye"))
            self.send(disconnect_notice(leg.uuid))
            self.close("exit")
        elif word == "getvar":
            value = leg.variables.get(rest.strip())
            # an unset variable is answered like an unknown command (08a/08c)
            self.send(command_reply("-ERR command not found" if value is None else value))
        elif word == "sendmsg":
            self._sendmsg(rest.strip(), headers)
        elif word == "api":
            if not full:
                self.send(command_reply("-ERR command not found"))
                return
            self.send(api_response(self.fs.api(rest, owner=leg)))
        elif word == "bgapi":
            if not full:
                self.send(command_reply("-ERR command not found"))
                return
            job_uuid = headers.get("Job-UUID") or str(uuid_module.uuid4())
            self.send(command_reply(f"+OK Job-UUID: {job_uuid}", [("Job-UUID", job_uuid)]))
            gevent.spawn(self.fs._background_job, rest, leg, job_uuid)
        elif word in ("filter", "nixevent", "noevents", "divert_events", "resume", "log", "nolog"):
            self.send(command_reply("+OK"))
        else:
            self.send(command_reply("-ERR command not found"))

    def _sendmsg(self, target: str, headers: dict[str, str]) -> None:
        leg = self.leg
        if target and target != leg.uuid:
            other = self.fs.legs.get(target)
            if other is None or other.hangup_started:
                self.send(command_reply(f"-ERR invalid session id [{target}]"))
                return
            leg = other
        command = headers.get("call-command", "")
        if command == "execute":
            app = headers.get("execute-app-name", "")
            arg = headers.get("execute-app-arg")
            lock = headers.get("event-lock", "").lower() == "true"
            app_uuid = headers.get("Event-UUID")
            if self.socket_mode == "static":
                # static sockets: sendmsg blocks until the app finished, its events follow the +OK
                self._held = []
                if not leg.hangup_started:
                    run = leg.queue_app(app, arg, app_uuid, event_lock=True)
                    run.done.wait()
                held, self._held = self._held, None
                self.send(command_reply("+OK"))
                for frame in held:
                    self.send(frame)
                return
            self.send(command_reply("+OK"))
            if not leg.hangup_started:
                leg.queue_app(app, arg, app_uuid, event_lock=lock)
        elif command == "hangup":
            self.send(command_reply("+OK"))
            if not leg.hangup_started:
                # the session thread takes the hangup between two frames of what plays: the
                # playback ends as played, not as an error (07b, unlike the caller's BYE in 04)
                gevent.spawn(leg.hangup, headers.get("hangup-cause") or "NORMAL_CLEARING",
                             media_response="FILE PLAYED")
        else:
            self.send(command_reply("+OK"))


class FakeLeg:
    """One FreeSWITCH channel: its channel data, variables, state, apps and connection."""

    def __init__(self, fs: "FakeFreeSwitch", call: "FakeCall", *, uuid: str, number: str,
                 template: list[tuple[str, str]], replacements: dict[str, str],
                 script: LegScript, direction: str, extra_vars: list[tuple[str, str]] = (),
                 drop_vars: Iterable[str] = (), insert_after: str | None = None, answered: bool = False):
        self.fs = fs
        self.call = call
        self.uuid = uuid
        self.number = number
        self.script = script
        self.direction = direction
        self.connection: FakeConnection | None = None
        self.commands: list[str] = []
        self.dtmf_sent: list[str] = []
        self.recordings: list[dict] = []
        self.broadcasts: list[str] = []  # what uuid_broadcast / sched_broadcast played to this leg
        self.bridged_with: str | None = None
        self.bridge_peer: FakeLeg | None = None
        self.bridge_first = False  # first uuid of uuid_bridge / A of the bridge app: sees CHANNEL_BRIDGE
        self.other_type: str | None = None
        self.answered = answered
        self.answered_at: float | None = time.monotonic() if answered else None
        self.hangup_started = False
        self.hangup_cause: str | None = None
        self.hangup_done = GeventEvent()
        self.socket_app_done = False
        self.socket_dropped = False
        self.state = "CS_EXECUTE"
        self.state_number = 4
        self.call_state = "ACTIVE" if answered else "RINGING"
        self.answer_state = "answered" if answered else "ringing"
        self.early_media = False  # pre_answered (183 sent), not answered yet
        self._apps: list[_AppRun] = []  # running, innermost last
        self._queue: list[_AppRun] = []
        self._queue_event = GeventEvent()
        self._runner = None
        self._pending_presses = [p for p in script.presses if p.relative_to == "prompt"]
        self._digit_buffer: list[str] = []
        self._var_cache: str | None = None
        self._var_lines: dict[str, tuple[str, str]] = {}  # name -> (value, encoded header line)
        self._profile_cache: str | None = None
        self.other_from_template = False
        self._other_cache: tuple | None = None
        self._peer_hangup_cause: str | None = None
        self.bridge_active = False
        self.bridged_us = 0  # when the leg was bridged (clock microseconds), for bridge_epoch
        self._moments: dict[str, GeventEvent] = {}
        self.ticks = 0  # ticks this channel waited for (step)
        self.pending_jobs: set[GeventEvent] = set()  # this leg's bgapi jobs not answered yet

        drop = set(drop_vars)
        self.channel_profile: list[tuple[str, str]] = []
        self.caller_profile: list[tuple[str, str]] = []
        self.variables: dict[str, str] = {}
        section = "head"
        for name, value in template:
            for old, new in replacements.items():
                if old in value:
                    value = value.replace(old, new)
            if name == "Channel-State":
                section = "channel"
            if name.startswith("variable_"):
                var = name[9:]
                if var in drop:
                    continue
                self.variables[var] = value
                if insert_after is not None and var == insert_after:
                    for k, v in extra_vars:
                        self.variables[k] = v
            elif name.startswith("Caller-"):
                self.caller_profile.append((name, value))
            elif section == "head" and name.startswith("Channel-"):
                self.channel_profile.append((name, value))
        if insert_after is None:
            for k, v in extra_vars:
                self.variables[k] = v
        self.channel_name = self.variables.get("channel_name", "")
        self.original_profile = list(self.caller_profile)
        self.created_at = time.monotonic()

    # ------------------------------------------------------------- observation
    @property
    def events_sent(self) -> list[str]:
        """Names of the events sent to the app on this leg's connection, in order."""
        out = []
        if self.connection is None:
            return out
        for _, direction, data in self.connection.frames:
            if direction == "fs->app" and b"text/event-plain" in data[:80]:
                start = data.index(b"Event-Name: ") + 12
                out.append(data[start:data.index(b"\n", start)].decode())
        return out

    def wait_hangup(self, timeout: float | None = None) -> bool:
        return self.hangup_done.wait(timeout)

    @property
    def role(self) -> str:
        """"a-leg" for the call's first leg, "b-leg" for the others (see MOMENTS)."""
        return "a-leg" if self is self.call.a_leg else "b-leg"

    def moment(self, name: str) -> GeventEvent:
        """The event set when this leg reaches ``name`` (MOMENTS, without a leg prefix)."""
        event = self._moments.get(name)
        if event is None:
            event = self._moments[name] = GeventEvent()
        return event

    def reached(self, name: str) -> None:
        """This leg reached a moment: wake what waits on it here and on the call."""
        event = self.moment(name)
        if not event.is_set():
            event.set()
            self.call.moment(f"{self.role}:{name}").set()

    def variable(self, name: str) -> str | None:
        return self.variables.get(name)

    # ------------------------------------------------------------- building frames
    def set_var(self, name: str, value: str | None) -> None:
        if value is None:
            if self.variables.pop(name, None) is not None:
                self._var_cache = None
        elif self.variables.get(name) != value:
            self.variables[name] = value
            self._var_cache = None

    def _variables_block(self) -> str:
        if self._var_cache is None:
            # FreeSWITCH changes a few variables per event: re-encode only the lines that changed
            lines = self._var_lines
            parts = []
            for name, value in self.variables.items():
                line = lines.get(name)
                if line is None or line[0] != value:
                    line = lines[name] = (value, f"variable_{name}: {url_encode(value)}\n")
                parts.append(line[1])
            self._var_cache = "".join(parts)
        return self._var_cache

    def _caller_block(self) -> str:
        if self._profile_cache is None:
            self._profile_cache = "".join(f"{k}: {url_encode(v)}\n" for k, v in self.caller_profile)
        return self._profile_cache

    def _other_block(self) -> str:
        peer = self.bridge_peer
        if peer is None or self.other_type is None:
            return ""
        profile_source = peer.original_profile if self.other_type == "originator" else peer.caller_profile
        key = (id(profile_source), self.other_type, peer.uuid)
        if self._other_cache is not None and self._other_cache[0] == key:
            return self._other_cache[1]
        lines = [f"Other-Type: {self.other_type}\n"]
        if self.other_from_template:
            # the bridge app's B-leg (01): the header set FreeSWITCH sent for it
            profile = dict(peer.caller_profile)
            for name in fs_templates.OTHER_LEG_HEADERS:
                value = peer.uuid if name == "Other-Leg-Unique-ID" else profile.get("Caller-" + name[10:], "")
                lines.append(f"{name}: {url_encode(value)}\n")
        else:
            # uuid_bridge (02): the peer's caller profile, renamed (the originator sees the
            # originatee's profile as it was before the transfer)
            profile = peer.original_profile if self.other_type == "originator" else peer.caller_profile
            for name, value in profile:
                if name in ("Caller-Profile-Index", "Caller-Transfer-Source"):
                    continue
                if name.endswith("-Time") and name != "Caller-Profile-Created-Time" and self.other_type == "originator":
                    value = "0"
                lines.append(f"Other-Leg-{name[7:]}: {url_encode(value)}\n")
        block = "".join(lines)
        self._other_cache = (key, block)
        return block

    def _channel_block(self) -> str:
        enc_name = url_encode(self.channel_name)
        out = (f"Channel-State: {self.state}\nChannel-Call-State: {self.call_state}\n"
               f"Channel-State-Number: {self.state_number}\nChannel-Name: {enc_name}\n"
               f"Unique-ID: {self.uuid}\nCall-Direction: {self.direction}\n"
               f"Presence-Call-Direction: {self.direction}\nChannel-HIT-Dialplan: true\n"
               f"Channel-Call-UUID: {self.uuid}\nAnswer-State: {self.answer_state}\n")
        if self.hangup_cause and self.hangup_started:
            out += f"Hangup-Cause: {self.hangup_cause}\n"
        out += ("Channel-Read-Codec-Name: PCMU\nChannel-Read-Codec-Rate: 8000\n"
                "Channel-Read-Codec-Bit-Rate: 64000\nChannel-Write-Codec-Name: PCMU\n"
                "Channel-Write-Codec-Rate: 8000\nChannel-Write-Codec-Bit-Rate: 64000\n")
        return out + self._caller_block() + self._other_block()

    def _head(self, name: str, calling_key: str | None = None) -> str:
        file, function, line = self.fs.calling(calling_key or name)
        return self.fs.event_head(name, file, function, line)

    def connect_reply(self, socket_mode: str, control: str) -> bytes:
        self.set_var("socket_host", self.fs.app_host)
        head = self._head("CHANNEL_DATA")
        profile = "".join(f"{k}: {url_encode(v)}\n" for k, v in self.channel_profile)
        block = (head + profile + self._channel_block() + self._variables_block()
                 + f"Content-Type: command/reply\nReply-Text: %2BOK%0A\nSocket-Mode: {socket_mode}\n"
                   f"Control: {control}\n\n")
        return block.encode()

    def emit(self, name: str, *, prefix: list[tuple[str, str]] = (), suffix: list[tuple[str, str]] = (),
             variables: bool = True, calling_key: str | None = None) -> None:
        conn = self.connection
        if conn is None or not conn.wants(name):
            return
        parts = [self._head(name, calling_key)]
        parts.extend(f"{k}: {url_encode(v)}\n" for k, v in prefix)
        parts.append(self._channel_block())
        if variables:
            parts.append(self._variables_block())
        parts.extend(f"{k}: {url_encode(v)}\n" for k, v in suffix)
        conn.send(event_plain("".join(parts)))

    def emit_state(self, state: str) -> None:
        self.state = state
        self.state_number = STATE_NUMBERS[state]
        self.emit("CHANNEL_STATE", variables=False)

    def step(self) -> None:
        """Wait for the channel's next tick (see "Time" above); counted for the benchmarks."""
        self.ticks += 1
        gevent.sleep(self.fs.tick)

    def set_profile_time(self, name: str, usec: int | None = None) -> None:
        """Stamp a Caller-Channel-*-Time of the caller profile with the process clock (microseconds)."""
        value = str(usec if usec is not None else clock_us())
        self.caller_profile = [(k, value if k == name else v) for k, v in self.caller_profile]
        self._profile_cache = None

    def profile_time(self, name: str) -> int:
        try:
            return int(dict(self.caller_profile).get(name, "0") or 0)
        except ValueError:
            return 0

    # ------------------------------------------------------------- apps
    def queue_app(self, app: str, arg: str | None, app_uuid: str | None, *, event_lock: bool) -> _AppRun:
        run = _AppRun(app, arg, app_uuid or str(uuid_module.uuid4()))
        if not event_lock and self._apps:
            # without event-lock a queued app starts nested inside the running one (01b)
            gevent.spawn(self._run_app, run)
            return run
        self._queue.append(run)
        self._queue_event.set()
        if self._runner is None:
            self._runner = gevent.spawn(self._run_queue)
        return run

    def _run_queue(self) -> None:
        while not self.hangup_started:
            if not self._queue:
                self._queue_event.clear()
                self._queue_event.wait()
                continue
            run = self._queue.pop(0)
            self._run_app(run)
        for run in self._queue:
            run.done.set()
        self._queue.clear()

    def _push(self, run: _AppRun) -> None:
        if self._apps:
            self._apps[-1].wake.set()  # pause the outer app
        self._apps.append(run)

    def _pop(self, run: _AppRun) -> None:
        if run in self._apps:
            self._apps.remove(run)
        if self._apps:
            self._apps[-1].wake.set()  # resume the outer app

    def media(self, run: _AppRun, seconds: float, until=None) -> str | None:
        """Play for ``seconds`` (scaled) unless stopped (its reason) or ``until()`` becomes true
        ("INPUT"); paused while a nested app runs. Wake ``run.wake`` to re-check ``until``."""
        remaining = seconds * self.fs.time_scale
        while True:
            if run.stop_reason:
                return run.stop_reason
            if until is not None and until():
                return "INPUT"
            if remaining <= 0:
                return None
            run.wake.clear()
            if self._apps and self._apps[-1] is not run:
                run.wake.wait()
                continue
            t0 = time.monotonic()
            run.wake.wait(remaining)
            remaining -= time.monotonic() - t0

    def _run_app(self, run: _AppRun) -> None:
        if self.hangup_started:
            run.done.set()
            return
        self._push(run)
        try:
            self.step()
            self.set_var("current_application", run.name)
            self.set_var("current_application_data", run.arg)
            self.set_var("current_application_response", None)
            data = [("Application-Data", run.arg)] if run.arg is not None else []
            self.emit("CHANNEL_EXECUTE", suffix=[("Application", run.name), *data,
                                                 ("Application-UUID", run.app_uuid)])
            self.reached("execute:" + run.name)
            handler = getattr(self, "_app_" + run.name, None)
            response = handler(run) if handler is not None else None
            response = response or "_none_"
            if response != "_none_":
                self.set_var("current_application_response", response)
            self.emit("CHANNEL_EXECUTE_COMPLETE",
                      suffix=[("Application", run.name), *data, ("Application-Response", response),
                              ("Application-UUID", run.app_uuid)])
            self.reached("complete:" + run.name)
        finally:
            self._pop(run)
            run.done.set()

    def _app_answer(self, run: _AppRun) -> None:
        if not self.answered:
            self.step()
            self.mark_answered()
        self.set_var("endpoint_disposition", "ANSWER")

    def mark_answered(self) -> None:
        self.answered = True
        self.answered_at = time.monotonic()
        self.answer_state = "answered"
        self.set_profile_time("Caller-Channel-Answered-Time")
        for name, value in fs_templates.ANSWER_VARIABLES:
            self.variables.setdefault(name[9:], value)
        self._var_cache = None
        self.emit("CHANNEL_ANSWER")
        if self.early_media:  # EARLY MEDIA since pre_answer, ANSWER from after CHANNEL_ANSWER on (07)
            self.early_media = False
            self.set_var("endpoint_disposition", "ANSWER")
        self.call_state = "ACTIVE"
        self.fs._leg_answered(self)

    def _app_pre_answer(self, run: _AppRun) -> None:
        """183 with SDP to the caller (07): PROGRESS_MEDIA at once, the completion a tick later;
        no CHANNEL_ANSWER."""
        if self.answered or self.early_media:
            return None
        self.early_media = True
        self.answer_state = "early"
        self.set_profile_time("Caller-Channel-Progress-Media-Time")
        self.set_var("endpoint_disposition", "EARLY MEDIA")
        self.emit("CHANNEL_PROGRESS_MEDIA")
        self.step()
        self.call_state = "EARLY"
        return None

    def _app_ring_ready(self, run):
        return None

    def _app_set(self, run: _AppRun) -> None:
        name, _, value = (run.arg or "").partition("=")
        self.set_var(name, value or None)

    def _app_export(self, run: _AppRun) -> None:
        name, _, value = (run.arg or "").partition("=")
        self.set_var(name, value or None)
        exported = [v for v in self.variables.get("export_vars", "").split(",") if v]
        if name not in exported:
            exported.append(name)
        self.set_var("export_vars", ",".join(exported))

    def media_seconds(self, path: str) -> float:
        if path.startswith("silence_stream://"):
            try:
                return int(path[17:].split(",")[0]) / 1000.0
            except ValueError:
                return 0.0
        if path.startswith("tone_stream://"):
            match = _TONE_RE.search(path)
            if not match:
                return 0.0
            numbers = [int(x) for x in match.group(1).split(",")]
            once = (numbers[0] + (numbers[1] if len(numbers) > 1 else 0)) / 1000.0
            loops_match = _LOOPS_RE.search(path)
            loops = int(loops_match.group(1)) if loops_match else 1
            return 10 ** 9 if loops < 0 else once * max(loops, 1)
        return self.script.file_seconds

    def playback_terminators(self) -> str:
        """Keys that end a plain playback (mod_dptools on_dtmf): the channel's
        ``playback_terminators``, ``*`` when unset, none for "none", every key for "any"."""
        value = self.variables.get("playback_terminators")
        if value is None:
            return DEFAULT_PLAYBACK_TERMINATORS
        if value.lower() == "none":
            return ""
        return ANY_KEY if value.lower() == "any" else value

    def _app_playback(self, run: _AppRun) -> str:
        seconds = self.media_seconds(run.arg or "")
        self.set_var("playback_terminator_used", None)  # playback_function clears it first
        queued, self._digit_buffer = self._digit_buffer, []
        for digit in queued:  # keys pressed before the playback: read (and consumed) by it at once
            if self._terminates(run, digit):
                break
        started = time.monotonic()
        stopped = self.media(run, seconds)
        if run.stop_reason and seconds < 10 ** 8:
            seconds = min(seconds, (time.monotonic() - started) / (self.fs.time_scale or 1))
        played_ms = int(seconds * 1000) if seconds < 10 ** 8 else 0
        self.set_var("playback_last_offset_pos", str(played_ms * 8))
        self.set_var("playback_seconds", str(played_ms // 1000))
        self.set_var("playback_ms", str(played_ms))
        self.set_var("playback_samples", str(played_ms * 8))
        return "PLAYBACK ERROR" if stopped == "PLAYBACK ERROR" else "FILE PLAYED"

    def _terminates(self, run: _AppRun, digit: str) -> bool:
        """A key reaching a plain playback: a terminator stops it (FILE PLAYED,
        ``playback_terminator_used``, 08c); any other key is consumed and lost (08a)."""
        if digit not in self.playback_terminators():
            return False
        self.set_var("playback_terminator_used", digit)
        run.stop("FILE PLAYED")
        return True

    def _app_sleep(self, run: _AppRun) -> None:
        try:
            self.media(run, int(run.arg or "0") / 1000.0)
        except ValueError:
            pass

    def _app_play_and_get_digits(self, run: _AppRun) -> None:
        """switch_play_and_get_digits: per try, the prompt (cut short once ``max`` keys came),
        then ``timeout`` ms for the keys; keys matching ``regexp`` succeed (08b); otherwise the
        invalid prompt plays and the variable is unset; after the last try ``read_result`` is
        ``failure`` (08a: prompt, timeout and invalid prompt, 7.25 s)."""
        args = (run.arg or "").split(" ")
        try:
            max_digits = int(args[1])
            tries = int(args[2])
            timeout_s = int(args[3]) / 1000.0
            prompt = args[5]
        except (IndexError, ValueError):
            return None
        invalid = args[6] if len(args) > 6 else ""
        var_name = args[7] if len(args) > 7 else "pagd_digit"
        pattern = args[8] if len(args) > 8 else ""
        self.set_var(var_name, None)

        def enough() -> bool:
            return len(self._digit_buffer) >= max(max_digits, 1)

        for _ in range(max(tries, 1)):
            if self._pending_presses:
                press = self._pending_presses.pop(0)
                if press.digit is not None:
                    gevent.spawn_later(press.after * self.fs.time_scale, self.press, press.digit)
            stopped = None if enough() else self.media(run, self.media_seconds(prompt), until=enough)
            if stopped == "PLAYBACK ERROR" or self.hangup_started:
                break
            if not self._digit_buffer:
                self.media(run, timeout_s, until=lambda: bool(self._digit_buffer))
            if run.stop_reason == "PLAYBACK ERROR" or self.hangup_started:
                break
            digits = "".join(self._digit_buffer[:max_digits])
            del self._digit_buffer[:max_digits]
            if digits and (not pattern or re.search(pattern, digits)):
                self.set_var("read_result", "success")
                self.set_var(var_name, digits)
                return None
            self.set_var(var_name, None)
            if invalid and self.media(run, self.media_seconds(invalid)) == "PLAYBACK ERROR":
                break
        self.set_var("read_result", "failure")
        return None

    def press(self, digit: str) -> None:
        """The far end presses ``digit`` (RFC2833): always a DTMF event (08a-c). The running
        application takes the key: play_and_get_digits collects it, a plain playback stops on a
        terminator and otherwise consumes it (08a); with nothing running it waits in the
        channel's queue for the next application."""
        if self.hangup_started:
            return
        self.dtmf_sent.append(digit)
        self.emit("DTMF", variables=False,
                  suffix=[("DTMF-Digit", digit), ("DTMF-Duration", "2240"), ("DTMF-Source", "RTP")])
        running = self._apps[-1] if self._apps else None
        if running is not None and running.name == "playback":
            self._terminates(running, digit)
            return
        self._digit_buffer.append(digit)
        if running is not None:
            running.wake.set()

    def _app_record_session(self, run: _AppRun) -> None:
        self.step()
        recording = {"path": run.arg, "started": time.monotonic(), "stopped": None}
        self.recordings.append(recording)
        self.emit("RECORD_START", suffix=[("Record-File-Path", run.arg or "")])

    def _app_sched_hangup(self, run: _AppRun) -> None:
        parts = (run.arg or "").split()
        if parts and parts[0].startswith("+"):
            cause = parts[1] if len(parts) > 1 else "ALLOTTED_TIMEOUT"
            self.fs.schedule(int(parts[0][1:]), self.hangup, cause)

    def _app_hangup(self, run: _AppRun) -> None:
        gevent.spawn(self.hangup, run.arg or "NORMAL_CLEARING", at_once=True)
        gevent.sleep(0)  # CHANNEL_HANGUP goes out before this app's EXECUTE_COMPLETE (03)
        gevent.sleep(0)

    def _app_bridge(self, run: _AppRun) -> None:
        target = run.arg or ""
        call = self.call
        call.note_callee_command()
        vars_, dial = _split_vars(target)
        number = _dialled_number(dial)
        script = call.script_for(number)
        b_uuid = str(uuid_module.uuid4())
        self.set_var("sip_invite_failure_status", None)
        self.set_var("sip_invite_failure_phrase", None)
        if script.outcome in ("answer", "no_answer"):  # the callee rang: its id shows (03)
            self.caller_profile = _with_callee_id(self.caller_profile, "Outbound Call", number)
            self._profile_cache = None
        if script.outcome != "answer":
            cause, dialstatus, sip_status, phrase = FAILURES[script.outcome]
            if script.outcome == "no_answer":
                wait = script.ring_seconds if script.ring_seconds is not None else float(vars_.get("originate_timeout", 60))
            else:
                wait = FAILURE_DELAY
            stopped = self.media(run, wait)
            if stopped == "PLAYBACK ERROR" or self.hangup_started:
                return None
            self.set_var("originate_signal_bond", b_uuid)
            self.set_var("originated_legs", f"{b_uuid};Outbound Call;{number}")
            if sip_status:
                self.set_var("sip_invite_failure_status", sip_status)
                self.set_var("sip_invite_failure_phrase", phrase)
                self.set_var("sip_hangup_phrase", phrase)
            self.set_var("last_bridge_hangup_cause", cause)
            if sip_status:
                self.set_var("last_bridge_proto_specific_hangup_cause", f"sip:{sip_status}")
            self.set_var("originate_disposition", cause)
            self.set_var("DIALSTATUS", dialstatus)
            self.set_var("originate_causes", f"{b_uuid};{cause}")
            self.set_var("originate_failed_cause", cause)
            call.callee_failures.append((number, cause))
            return None
        if self.media(run, script.answer_after) == "PLAYBACK ERROR":
            return None
        b_leg = self.fs._new_originated_leg(call, number, vars_, script, b_uuid, socket_address=None)
        self.bridge_peer, b_leg.bridge_peer = b_leg, self
        self.bridged_with, b_leg.bridged_with = b_leg.uuid, self.uuid
        self.bridge_first = True
        self.other_type = "originatee"
        self.other_from_template = True
        self.bridge_active = True
        for k, v in (("originated_legs", f"{b_leg.uuid};Outbound Call;{number}"),
                     ("originate_disposition", "SUCCESS"), ("DIALSTATUS", "SUCCESS"),
                     ("originate_causes", f"{b_leg.uuid};NONE"), ("signal_bond", b_leg.uuid)):
            self.set_var(k, v)
        self.step()
        self.bridged_us = b_leg.bridged_us = clock_us()
        self.emit("CHANNEL_BRIDGE", prefix=[("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", b_leg.uuid)])
        self.reached("bridge")
        b_leg.reached("bridge")
        # The bridge lasts until either side hangs up.
        run.wake.clear()
        while not run.stop_reason and not b_leg.hangup_started:
            run.wake.wait(0.5)
            run.wake.clear()
        if b_leg.hangup_started and not self.hangup_started:
            b_leg.hangup_done.wait(5)
            self.step()
            for k, v in (("last_bridge_to", b_leg.uuid), ("bridge_channel", b_leg.channel_name),
                         ("bridge_uuid", b_leg.uuid), ("last_bridge_hangup_cause", b_leg.hangup_cause),
                         ("last_bridge_proto_specific_hangup_cause", "sip:200"),
                         ("bridge_hangup_cause", b_leg.hangup_cause)):
                self.set_var(k, v)
            self.emit("CHANNEL_UNBRIDGE", prefix=[("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", b_leg.uuid)])
            self.bridge_active = False  # the B leg is gone; our socket app goes on (Other-Leg-* stays)
        return None

    # ------------------------------------------------------------- interruptions
    def break_media(self) -> None:
        """uuid_break ... all: stop what plays; a broken playback reports FILE PLAYED (02a)."""
        for run in list(self._apps):
            if run.name in ("playback", "play_and_get_digits", "sleep"):
                run.stop("FILE PLAYED")

    def _stop_apps(self, reason: str) -> None:
        for run in reversed(list(self._apps)):
            if run.name != "hangup":
                run.stop(reason)
        for run in reversed(list(self._apps)):
            run.done.wait(5)

    def transfer_profile(self, peer: "FakeLeg", first: bool) -> None:
        """The new caller profile uuid_bridge gives each leg (done for both before any event)."""
        profile = dict(self.caller_profile)
        peer_profile = dict(peer.caller_profile)
        if first:
            callee = (peer_profile.get("Caller-Orig-Caller-ID-Name", ""), peer_profile.get("Caller-Orig-Caller-ID-Number", ""))
        else:
            callee = (profile.get("Caller-Orig-Caller-ID-Name", ""), profile.get("Caller-Orig-Caller-ID-Number", ""))
        new_profile = _with_callee_id(_transferred_profile(self.caller_profile, peer.uuid), *callee)
        if not first:  # the originator shows the callee's caller id (02a A)
            new_profile = [(k, peer_profile.get(k, v)) if k in ("Caller-Caller-ID-Name", "Caller-Caller-ID-Number")
                           else (k, v) for k, v in new_profile]
        self.caller_profile = new_profile
        self._profile_cache = None

    def uuid_bridge_side(self, peer: "FakeLeg", first: bool) -> None:
        """What one leg goes through when ``uuid_bridge <first> <second>`` runs (02a/02b)."""
        self.bridge_peer = peer
        self.bridged_with = peer.uuid
        self.bridge_first = first
        self.other_type = "originatee" if first else "originator"
        self.bridge_active = True
        for job in list(self.pending_jobs):
            # 07: the B app's uuid_bridge came before A's BACKGROUND_JOB for the originate, and A
            # still got the job first: the originate returns before the bridged leg is transferred
            job.wait(5)
        self.step()
        if peer.hangup_started:
            self.hangup_by_peer(peer.hangup_cause or "NORMAL_CLEARING")
            return
        had_media = any(run.name in ("playback", "play_and_get_digits", "sleep") for run in self._apps)
        self._stop_apps("PLAYBACK ERROR")
        self.state_number = 8
        response = self.variables.get("current_application_response", "_none_")
        self.set_var("bridge_uuid", peer.uuid)
        self.set_var("signal_bond", peer.uuid)
        self.set_var("bridge_channel", peer.channel_name)
        if not self.socket_app_done:
            self.emit("CHANNEL_UNPARK")
            self.socket_app_done = True
            self.emit("CHANNEL_EXECUTE_COMPLETE",
                      suffix=[("Application", "socket"), ("Application-Data", self.socket_data),
                              ("Application-Response", response), ("Application-UUID", str(uuid_module.uuid4()))])
        self.emit_state("CS_HIBERNATE")
        self.emit_state("CS_RESET")
        self.emit_state("CS_SOFT_EXECUTE")
        self.step()
        self.bridged_us = clock_us()
        self.emit("CHANNEL_EXECUTE", suffix=[("Application", "uuid_bridge"), ("Application-Data", peer.uuid)],
                  calling_key="CHANNEL_EXECUTE:uuid_bridge")
        if first:
            self.emit("CHANNEL_BRIDGE", prefix=[("Bridge-A-Unique-ID", self.uuid), ("Bridge-B-Unique-ID", peer.uuid)])
        else:
            if had_media:  # 02b: the bridge took the channel away from a playback
                self.emit_state("CS_CONSUME_MEDIA")
            self.emit_state("CS_EXCHANGE_MEDIA")
            if not self.answered and peer.answered:
                # 07: bridged to an answered leg, a pre-answered (or ringing) leg is answered by
                # FreeSWITCH itself: CHANNEL_ANSWER (still reading Channel-Call-State EARLY), 200 OK
                self.mark_answered()
        self.reached("bridge")

    @property
    def socket_data(self) -> str:
        conn = self.connection
        if conn is None:
            return ""
        return f"{conn.address[0]}:{conn.address[1]} async full"

    # ------------------------------------------------------------- hangup
    def hangup(self, cause: str = "NORMAL_CLEARING", media_response: str = "PLAYBACK ERROR", *,
               at_once: bool = False) -> None:
        """Hang this leg up with FreeSWITCH's event order (README "Timing and order").
        ``media_response``: how a playback cut short by the hangup completes; ``at_once``: the
        hangup application runs on the session thread already (03), no tick to wait for."""
        if self.hangup_started:
            return
        self.hangup_started = True
        self._queue_event.set()
        # A uuid_bridge'd peer has no socket app left to run: FreeSWITCH clears it too (02a/02b).
        # A bridge-app A-leg goes on with its socket app (hangup_after_bridge=false, 01).
        peer = self.bridge_peer
        if peer is None or peer.hangup_started or peer.other_from_template or self.other_from_template:
            peer = None
        conn = self.connection
        silent = (conn is None or conn._sock is None or conn.closed.is_set()
                  or conn.socket_mode == "static")
        if silent:
            self.hangup_cause = cause
            self._stop_apps(media_response)
            if peer is not None:
                gevent.spawn(peer.hangup_by_peer, cause)
            self._finish_hangup(conn)
            return
        if not at_once:
            self.step()
        if self.bridge_first and self.bridge_active and self.bridge_peer.hangup_started:
            # the other side hung up first: UNBRIDGE, back to CS_EXECUTE, then our hangup (02b B)
            self.set_var("bridge_hangup_cause", self.bridge_peer.hangup_cause)
            self.emit("CHANNEL_UNBRIDGE", prefix=[("Bridge-A-Unique-ID", self.uuid),
                                                  ("Bridge-B-Unique-ID", self.bridge_peer.uuid)])
            self.emit_state("CS_EXECUTE")
            unbridged = True
        else:
            unbridged = False
        self.hangup_cause = cause
        self.state_number = 10
        self.answer_state = "hangup"
        self.set_profile_time("Caller-Channel-Hangup-Time")
        self.set_var("current_loop", None)
        self.set_var("total_loops", None)
        self.set_var("hangup_cause", cause)
        self.emit("CHANNEL_HANGUP")
        if peer is not None:
            gevent.spawn(peer.hangup_by_peer, cause)
        if conn.linger is not None and conn.linger >= 0:
            conn.send(linger_notice(self.uuid, self.channel_name, conn.linger))  # 05: right after HANGUP
        self._stop_apps(media_response)
        if self.bridge_first and self.bridge_active and not unbridged:
            self.set_var("bridge_hangup_cause", cause)
            self.emit("CHANNEL_UNBRIDGE", prefix=[("Bridge-A-Unique-ID", self.uuid),
                                                  ("Bridge-B-Unique-ID", self.bridge_peer.uuid)])
        if not self.socket_app_done:
            if conn.linger is not None and conn.linger >= 0:
                self.step()  # 05 (linger N, scheduled hangup): UNPARK a tick after HANGUP; 01-04: at once
            self.emit("CHANNEL_UNPARK")
            self.socket_app_done = True
            self.emit("CHANNEL_EXECUTE_COMPLETE",
                      suffix=[("Application", "socket"), ("Application-Data", self.socket_data),
                              ("Application-Response", self.variables.get("current_application_response", "_none_")),
                              ("Application-UUID", str(uuid_module.uuid4()))])
        self.emit_state("CS_HANGUP")
        for recording in self.recordings:
            if recording["stopped"] is None:
                recording["stopped"] = time.monotonic()
                seconds = recording["stopped"] - recording["started"]
                ms = int(seconds / (self.fs.time_scale or 1) * 1000)
                for k, v in (("record_seconds", str(ms // 1000)), ("record_ms", str(ms)),
                             ("record_completion_cause", "success-silence")):
                    self.set_var(k, v)
                self.emit("RECORD_STOP", suffix=[("Record-File-Path", recording["path"] or ""),
                                                 ("Record-Completion-Cause", "success-silence")])
        self.call_state = "HANGUP"
        self.emit_state("CS_REPORTING")
        for name, value in fs_templates.HANGUP_COMPLETE_VARIABLES:
            self.variables.setdefault(name[9:], value)
        self.set_var("hangup_cause", cause)
        answered_us = self.profile_time("Caller-Channel-Answered-Time") if self.answered else 0
        ended_us = self.profile_time("Caller-Channel-Hangup-Time")
        # the template's epochs are the capture's: this channel's own times replace them
        created_us = self.profile_time("Caller-Channel-Created-Time")
        progress_us = self.profile_time("Caller-Channel-Progress-Time")
        for prefix, usec in (("start", created_us), ("profile_start", created_us), ("progress", progress_us),
                             ("bridge", self.bridged_us)):
            self.set_var(f"{prefix}_uepoch", str(usec))
            self.set_var(f"{prefix}_epoch", str(usec // 1_000_000))
        if ended_us:  # switch_core_state_machine: billsec from the whole-second epochs
            self.set_var("end_uepoch", str(ended_us))
            self.set_var("end_epoch", str(ended_us // 1_000_000))
            self.set_var("answer_uepoch", str(answered_us))
            self.set_var("answer_epoch", str(answered_us // 1_000_000))
            billsec = ended_us // 1_000_000 - answered_us // 1_000_000 if answered_us else 0
            self.set_var("billsec", str(billsec))
            self.set_var("billmsec", str((ended_us - answered_us) // 1000 if answered_us else 0))
        if self._peer_hangup_cause:
            self.set_var("bridge_hangup_cause", self._peer_hangup_cause)
        self._var_cache = None
        self.emit("CHANNEL_HANGUP_COMPLETE", prefix=[("Hangup-Cause", cause)])
        self._finish_hangup(conn)

    def hangup_by_peer(self, peer_cause: str) -> None:
        """The uuid_bridge'd other side hung up: FreeSWITCH clears this leg (02a A, 02b B)."""
        if not self.hangup_started:
            self.set_var("last_bridge_hangup_cause", peer_cause)
            self._peer_hangup_cause = peer_cause
            self.hangup("NORMAL_CLEARING")

    def _finish_hangup(self, conn: FakeConnection | None) -> None:
        for recording in self.recordings:
            if recording["stopped"] is None:
                recording["stopped"] = time.monotonic()
        self.hangup_done.set()
        self.reached("hangup")
        self.fs._leg_hung_up(self)
        if conn is None or conn.closed.is_set():
            return
        if conn.socket_mode == "static" or conn.linger is None:
            conn.send(disconnect_notice(self.uuid))
            conn.close("no linger")
        elif conn.linger == -1:
            conn.send(linger_notice(self.uuid, self.channel_name, -1))
        else:
            def close_after_linger():
                if not conn.closed.is_set():
                    conn.send(disconnect_notice(self.uuid))
                    conn.close("linger time over")
            gevent.spawn_later(conn.linger * self.fs.time_scale, close_after_linger)

    def _connection_closed(self, conn: FakeConnection) -> None:
        # The app closed the socket (or it dropped): the socket app ends, the dialplan ends,
        # and an unbridged channel hangs up.
        if not self.hangup_started and self.bridge_peer is None:
            gevent.spawn(self.hangup, "NORMAL_CLEARING")
        self.call._check_ended()


def _split_vars(dial: str) -> tuple[dict[str, str], str]:
    variables: dict[str, str] = {}
    if dial.startswith("{"):
        end = dial.find("}")
        body, dial = dial[1:end], dial[end + 1:]
        for item in re.split(r"(?<!\\),", body):
            key, _, value = item.partition("=")
            if key:
                variables[key.strip()] = value.replace("\\,", ",")
    return variables, dial


def _dialled_number(dial: str) -> str:
    tail = dial.rsplit("/", 1)[-1]
    return tail.split("@", 1)[0]


def _with_callee_id(profile: list[tuple[str, str]], name: str, number: str) -> list[tuple[str, str]]:
    """Set Caller-Callee-ID-Name/Number (inserted after Caller-Orig-Caller-ID-Number)."""
    out = []
    for key, value in profile:
        if key in ("Caller-Callee-ID-Name", "Caller-Callee-ID-Number"):
            continue
        out.append((key, value))
        if key == "Caller-Orig-Caller-ID-Number":
            out.append(("Caller-Callee-ID-Name", name))
            out.append(("Caller-Callee-ID-Number", number))
    return out


def _transferred_profile(profile: list[tuple[str, str]], peer_uuid: str) -> list[tuple[str, str]]:
    """uuid_bridge gives the channel a new caller profile: index 2 and a Transfer-Source (02)."""
    out = []
    stamp = clock_us() // 1_000_000
    for key, value in profile:
        if key == "Caller-Transfer-Source":
            continue
        if key == "Caller-Profile-Index":
            value = "2"
        out.append((key, value))
        if key == "Caller-Source":
            out.append(("Caller-Transfer-Source", f"{stamp}:{uuid_module.uuid4()}:uuid_br:{peer_uuid}"))
    return out


class FakeCall:
    """An agent (or inbound) call and every leg it created."""

    def __init__(self, fs: "FakeFreeSwitch", callee_scripts: dict[str, LegScript] | None):
        self.fs = fs
        self.callee_scripts = dict(callee_scripts or {})
        self.legs: list[FakeLeg] = []
        self.a_leg: FakeLeg | None = None
        self.t_connect: float | None = None
        self.t_callee_command: float | None = None
        self.ticks_before_callee_command: int | None = None
        self.writes_before_callee_command: int | None = None
        self.callee_failures: list[tuple[str, str]] = []
        self.connect_error: Exception | None = None
        self.ended = GeventEvent()
        self._moments: dict[str, GeventEvent] = {}

    def moment(self, spec: str) -> GeventEvent:
        """The event set when a leg of this call reaches a moment: ``"a-leg:<moment>"`` or
        ``"b-leg:<moment>"`` (MOMENTS)."""
        if not spec.startswith(LEG_PREFIXES):
            raise ValueError(f"a call moment names its leg: 'a-leg:...' or 'b-leg:...', not {spec!r}")
        event = self._moments.get(spec)
        if event is None:
            event = self._moments[spec] = GeventEvent()
        return event

    def wait_for(self, spec: str, timeout: float = 10.0) -> bool:
        """Wait until a leg of the call reaches ``spec`` (e.g. "b-leg:bridge"); False on timeout."""
        return self.moment(spec).wait(timeout)

    def script_for(self, number: str) -> LegScript:
        return self.callee_scripts.get(number) or self.fs.default_callee

    def note_callee_command(self) -> None:
        if self.t_callee_command is None:
            self.t_callee_command = time.monotonic()
            leg = self.a_leg
            if leg is not None and leg.connection is not None:
                # what the first leg went through before the callee's INVITE (bench/call_pdd.py)
                self.ticks_before_callee_command = leg.ticks
                self.writes_before_callee_command = leg.connection.writes_received

    @property
    def admission_latency(self) -> float | None:
        """Seconds from the A-leg TCP connect to the receipt of the first originate/bridge."""
        if self.t_connect is None or self.t_callee_command is None:
            return None
        return self.t_callee_command - self.t_connect

    @property
    def callee_legs(self) -> list[FakeLeg]:
        return [leg for leg in self.legs if leg is not self.a_leg]

    def leg(self, number: str) -> FakeLeg:
        for leg in self.legs:
            if leg is not self.a_leg and leg.number == number:
                return leg
        raise KeyError(number)

    def _check_ended(self) -> None:
        if self.ended.is_set():
            return
        for leg in self.legs:
            if not leg.hangup_done.is_set():
                return
            if leg.connection is not None and not leg.connection.closed.is_set():
                return
        self.ended.set()

    def wait_ended(self, timeout: float = 10.0) -> bool:
        """True once every leg hung up and every socket of the call is closed."""
        return self.ended.wait(timeout)

    @property
    def hangup_cause(self) -> str | None:
        return self.a_leg.hangup_cause if self.a_leg else None


class FakeFreeSwitch:
    """The fake switch. ``place_call`` makes FreeSWITCH hand a new channel to the app."""

    def __init__(self, app_host: str, app_port: int, *, tick: float | None = None, time_scale: float = 1.0,
                 realistic: bool = False, default_callee: LegScript | None = None,
                 record_frames: bool = True, core_uuid: str | None = None):
        self.app_host = app_host
        self.app_port = app_port
        if tick is None:
            tick = FS_TICK if realistic else FS_TICK * time_scale
        self.tick = tick
        self.time_scale = time_scale
        self.default_callee = default_callee or LegScript()
        self.record_frames = record_frames
        self.core_uuid = core_uuid or str(uuid_module.uuid4())
        self.legs: dict[str, FakeLeg] = {}
        self.calls: list[FakeCall] = []
        self._scheduled: dict[str, list] = {}  # scheduler group -> greenlets (sched_del)
        self._sequence = itertools.count(4419)
        self._session_ids = itertools.count(144)
        self._static_head = ("Core-UUID: %s\nFreeSWITCH-Hostname: fs1\nFreeSWITCH-Switchname: fs1\n"
                             "FreeSWITCH-IPv4: 192.0.2.2\nFreeSWITCH-IPv6: fd00%%3A%%3A2\n" % self.core_uuid)
        self._date_cache: tuple[int, str] = (-1, "")
        self._scheduler_scale = time_scale or 1.0
        self._scheduler_base = time.monotonic() / self._scheduler_scale
        self._scheduler_since = time.monotonic()
        self._scheduler_running = GeventEvent()
        self._scheduler_running.set()
        self._scheduler_held = GeventEvent()

    # ------------------------------------------------------------- frames
    @staticmethod
    def calling(key: str) -> tuple[str, str, int]:
        return fs_templates.EVENT_CALLING.get(key) or fs_templates.EVENT_CALLING[key.split(":")[0]]

    def event_head(self, name: str, file: str, function: str, line: int) -> str:
        now_us = clock_us()
        second = now_us // 1_000_000
        if self._date_cache[0] != second:
            dates = event_date_headers(second)
            self._date_cache = (second, "".join(f"{k}: {url_encode(v)}\n" for k, v in dates[:2]))
        return (f"Event-Name: {name}\n{self._static_head}{self._date_cache[1]}"
                f"Event-Date-Timestamp: {now_us}\nEvent-Calling-File: {file}\n"
                f"Event-Calling-Function: {function}\nEvent-Calling-Line-Number: {line}\n"
                f"Event-Sequence: {next(self._sequence)}\n")

    # ------------------------------------------------------------- calls
    def place_call(self, destination: str, caller: str = "caller1", *, variables: dict[str, str] | None = None,
                   sip_headers: dict[str, str] | None = None, sip_auth_username: str | None = None,
                   sip_auth_realm: str | None = None, callee_scripts: dict[str, LegScript] | None = None,
                   script: LegScript | None = None, uuid: str | None = None, context: str = "public",
                   socket_address: tuple[str, int] | None = None, wait_connected: bool = True) -> FakeCall:
        """An agent's softphone (SIP-authenticated) calls ``destination``; the dialplan hands the
        channel to the app. ``variables`` are the dialplan's ``set`` variables; ``sip_headers``
        become ``variable_sip_h_<name>``."""
        call = FakeCall(self, callee_scripts)
        uuid = uuid or str(uuid_module.uuid4())
        now_us = str(clock_us())
        replacements = {_TEMPLATE_A_UUID: uuid, "caller1": caller, "1795458281116986": now_us,
                        "1-24493@127.0.0.1": f"{uuid_module.uuid4().hex[:12]}@127.0.0.1"}
        extra: list[tuple[str, str]] = []
        if sip_auth_username:
            extra += [("sip_auth_username", sip_auth_username), ("sip_auth_realm", sip_auth_realm or "")]
        extra += [(f"sip_h_{k}", v) for k, v in (sip_headers or {}).items()]
        template = []
        for name, value in fs_templates.CONNECT_INBOUND_LEG:
            if name in ("Channel-Destination-Number", "Caller-Destination-Number", "variable_sip_req_user",
                        "variable_sip_to_user"):
                value = destination
            elif "1001@" in value:
                value = value.replace("1001@", f"{destination}@")
            elif name == "variable_DP_MATCH":
                value = f"ARRAY::{destination}|:{destination}"
            elif name in ("Channel-Context", "Caller-Context"):
                value = context
            elif name == "variable_session_id":
                value = str(next(self._session_ids))
            template.append((name, value))
        dialplan_vars = list((variables or {}).items())
        leg = FakeLeg(self, call, uuid=uuid, number=destination, template=template, replacements=replacements,
                      script=script or LegScript(), direction="inbound",
                      extra_vars=extra, insert_after="max_forwards",
                      drop_vars=("sip_h_X-Tenant", "sip_h_X-Seat", "app_tenant", "app_seat", "app_dnis", "app_ani"))
        # the dialplan's `set` variables sit after call_uuid, before current_application (01)
        if dialplan_vars:
            reordered = {}
            for k, v in leg.variables.items():
                reordered[k] = v
                if k == "call_uuid":
                    reordered.update(dialplan_vars)
            leg.variables = reordered
        leg.set_var("current_application_data", "%s:%s async full" % (socket_address or (self.app_host, self.app_port)))
        call.a_leg = leg
        self._start_leg(call, leg, socket_address or (self.app_host, self.app_port), "async", "full",
                        wait_connected=wait_connected)
        return call

    def place_inbound_call(self, did: str, caller: str, **kwargs) -> FakeCall:
        """A PSTN caller dials a leased number (``Caller-Destination-Number`` = the DID)."""
        kwargs.setdefault("context", "public")
        return self.place_call(did, caller, **kwargs)

    def _start_leg(self, call: FakeCall, leg: FakeLeg, address, mode, control, wait_connected=True) -> None:
        self.legs[leg.uuid] = leg
        call.legs.append(leg)
        if leg is call.a_leg:
            self.calls.append(call)
        conn = FakeConnection(self, leg, address, mode, control)
        leg.connection = conn
        self._arm_script(leg)

        def connect():
            try:
                conn.open()
            except OSError as exc:
                call.connect_error = exc
                leg.hangup_started = True
                leg.hangup_cause = "NORMAL_TEMPORARY_FAILURE"
                conn.closed.set()
                leg.hangup_done.set()
                call._check_ended()
                return False
            if leg is call.a_leg:
                call.t_connect = conn.connected_at
            return True

        if wait_connected:
            connect()
        else:
            gevent.spawn(connect)

    def _arm_script(self, leg: FakeLeg) -> None:
        """Schedule the leg's far-end actions on the moments they count from (MOMENTS); the
        presses of play_and_get_digits prompts are taken by the prompts themselves."""
        script = leg.script
        if script.hangup_after is not None:
            self.when(leg, script.hangup_relative_to, script.hangup_after, leg.hangup, script.hangup_cause)
        if script.abandon_after is not None and leg is leg.call.a_leg:
            self.when(leg, "connect", script.abandon_after, leg.hangup, script.hangup_cause)
        for press in script.presses:
            if press.relative_to != "prompt" and press.digit is not None:
                self.when(leg, press.relative_to, press.after, leg.press, press.digit)

    def when(self, leg: FakeLeg, moment: str, after: float, action, *args) -> None:
        """Run ``action(*args)`` ``after`` (scaled) seconds once ``moment`` (MOMENTS) is reached,
        unless ``leg`` hung up first."""
        event = leg.call.moment(moment) if moment.startswith(LEG_PREFIXES) else leg.moment(moment)

        def wait_then_act():
            gevent.wait([event, leg.hangup_done], count=1)
            if leg.hangup_started:
                return
            if after:
                gevent.sleep(after * self.time_scale)
            action(*args)

        gevent.spawn(wait_then_act)

    def _leg_answered(self, leg: FakeLeg) -> None:
        leg.reached("answer")

    def _leg_hung_up(self, leg: FakeLeg) -> None:
        leg.call._check_ended()

    def _new_originated_leg(self, call: FakeCall, number: str, variables: dict[str, str], script: LegScript,
                            b_uuid: str, socket_address) -> FakeLeg:
        b_uuid = variables.get("origination_uuid", b_uuid)
        cid = variables.get("origination_caller_id_number", "0000000000")
        now_us = str(clock_us())
        replacements = {_TEMPLATE_B_UUID: b_uuid, _TEMPLATE_B_CID: cid, "2002@": f"{number}@",
                        "1795458448097011": now_us}
        template = []
        for name, value in fs_templates.CONNECT_ORIGINATED_LEG:
            if value == "2002":
                value = number  # Caller-Caller-ID-Number is the dialled number (surprise 3)
            elif name == "variable_session_id":
                value = str(next(self._session_ids))
            elif name == "variable_sip_call_id":
                value = str(uuid_module.uuid4())
            template.append((name, value))
        template_vars = ("origination_caller_id_number", "fsapp_parent", "fsapp_role", "originate_timeout")
        leg = FakeLeg(self, call, uuid=b_uuid, number=number, template=template, replacements=replacements,
                      script=script, direction="outbound", drop_vars=template_vars,
                      extra_vars=list(variables.items()), insert_after="sip_destination_url", answered=True)
        if socket_address is not None:
            leg.set_var("current_application_data", f"{socket_address[0]}:{socket_address[1]} async full")
        else:
            leg.set_var("current_application_data", None)
            leg.set_var("current_application", None)
            leg.socket_app_done = True
        self.legs[leg.uuid] = leg
        call.legs.append(leg)
        self._arm_script(leg)
        self._leg_answered(leg)
        return leg

    # ------------------------------------------------------------- api
    def api(self, command: str, owner: FakeLeg | None = None) -> str:
        """Run an api command like mod_commands does; returns the api/response body."""
        word, _, rest = command.strip().partition(" ")
        args = rest.split()
        if word == "originate":
            return self._originate(rest, owner)
        if word == "sched_del":
            # mod_commands: a digit string is a task id, anything else a group; sched_hangup and
            # sched_broadcast schedule in the group named by the channel uuid
            if not args:
                return "-ERR Invalid syntax\n"
            return f"+OK Deleted: {self.unschedule(args[0])}\n"
        if word in ("uuid_kill", "uuid_break", "uuid_getvar", "uuid_setvar", "uuid_bridge", "sched_hangup",
                    "sched_broadcast", "uuid_broadcast"):
            uuid_arg = args[1] if word.startswith("sched_") and len(args) > 1 else (args[0] if args else "")
            leg = self.legs.get(uuid_arg)
            if leg is None or leg.hangup_started:
                return "-ERR No such channel!\n"
            if word == "uuid_kill":
                gevent.spawn(leg.hangup, args[1] if len(args) > 1 else "NORMAL_CLEARING")
                return "+OK\n"
            if word == "uuid_break":
                leg.break_media()
                return "+OK\n"
            if word == "uuid_getvar":
                return leg.variables.get(args[1], "_undef_") if len(args) > 1 else "-ERR Usage\n"
            if word == "uuid_setvar":
                leg.set_var(args[1], " ".join(args[2:]) or None)
                return "+OK\n"
            if word == "uuid_bridge":
                other = self.legs.get(args[1]) if len(args) > 1 else None
                if other is None or other.hangup_started:
                    return "-ERR No such channel!\n"
                (leg.call if leg.call is other.call else leg.call).note_callee_command()
                leg.transfer_profile(other, True)
                other.transfer_profile(leg, False)
                for side, peer in ((leg, other), (other, leg)):  # linked now: a hangup from here on clears both
                    side.bridge_peer, side.bridged_with = peer, peer.uuid
                gevent.spawn(leg.uuid_bridge_side, other, True)
                gevent.spawn(other.uuid_bridge_side, leg, False)
                return f"+OK {other.uuid}\n"
            if word == "sched_hangup":
                seconds = int(args[0].lstrip("+"))
                self.schedule(seconds, leg.hangup, args[2] if len(args) > 2 else "ALLOTTED_TIMEOUT", group=leg.uuid)
                return "+OK\n"
            if word == "sched_broadcast":
                seconds = int(args[0].lstrip("+"))
                self.schedule(seconds, self.broadcast, leg, args[2], args[3] if len(args) > 3 else "aleg",
                              group=leg.uuid)
                return "+OK Message scheduled\n"
            if word == "uuid_broadcast":
                if len(args) < 2:
                    return "-ERR Usage: uuid_broadcast <uuid> <path> [aleg|bleg|both]\n"
                self.broadcast(leg, args[1], args[2] if len(args) > 2 else "aleg")
                return "+OK Message sent\n"
        if word == "status":
            return "UP 0 years, 0 days\nFreeSWITCH (Version 1.10.12 fake) is ready\n"
        return f"-ERR {word} Command not found!\n"

    # ------------------------------------------------------------- FreeSWITCH's scheduler
    def scheduler_seconds(self) -> float:
        """FreeSWITCH seconds on the scheduler's clock: it runs at 1/time_scale of real time
        (monotonic) and stands still while held."""
        if self._scheduler_held.is_set():
            return self._scheduler_base
        return self._scheduler_base + (time.monotonic() - self._scheduler_since) / self._scheduler_scale

    def hold_scheduler(self) -> None:
        """Stop FreeSWITCH's scheduler clock: sched_hangup / sched_broadcast tasks are accepted
        (and sched_del removes them) but none fires until :meth:`release_scheduler`. For tests in
        which a scaled duration limit would otherwise race the app's own (unscaled) work."""
        if not self._scheduler_held.is_set():
            self._scheduler_base = self.scheduler_seconds()
            self._scheduler_running.clear()
            self._scheduler_held.set()

    def release_scheduler(self) -> None:
        """Let FreeSWITCH's scheduler clock run again from where it stood."""
        if self._scheduler_held.is_set():
            self._scheduler_since = time.monotonic()
            self._scheduler_held.clear()
            self._scheduler_running.set()

    def schedule(self, seconds: int, func, *args, group: str | None = None) -> None:
        """FreeSWITCH's scheduler ticks on whole epoch seconds: ``+N`` fires after N-1..N s (on the
        scheduler's clock, so +1 and +3 keep their order)."""
        due = int(self.scheduler_seconds()) + seconds
        fired: list[bool] = []

        def fire():
            while True:
                self._scheduler_running.wait()
                left = due - self.scheduler_seconds()
                if left <= 0:
                    break
                self._scheduler_held.wait(left * self._scheduler_scale)  # wakes early when held
            fired.append(True)
            func(*args)

        task = gevent.spawn(fire)
        task.fired = fired
        if group is not None:
            tasks = self._scheduled.setdefault(group, [])
            tasks[:] = [t for t in tasks if not t.dead]
            tasks.append(task)

    def unschedule(self, group: str) -> int:
        """``sched_del <group>``: cancel the group's tasks that did not run yet; how many."""
        tasks = [t for t in self._scheduled.pop(group, []) if not t.dead and not t.fired]
        for task in tasks:
            task.kill(block=False)
        return len(tasks)

    def broadcast(self, leg: FakeLeg, path: str, which: str = "aleg") -> None:
        """uuid_broadcast / sched_broadcast: play ``path`` (or ``app::arg``) to the leg, its bridged
        peer (``bleg``) or both; a broadcast runs even while the leg is bridged."""
        app, sep, app_arg = path.partition("::")
        if not sep:
            app, app_arg = "playback", path
        targets = {"aleg": [leg], "bleg": [leg.bridge_peer], "both": [leg, leg.bridge_peer]}.get(which, [leg])
        for target in targets:
            if target is not None and not target.hangup_started:
                target.broadcasts.append(app_arg)
                target.queue_app(app, app_arg, None, event_lock=True)
                target.reached("broadcast")

    def _background_job(self, command: str, owner: FakeLeg, job_uuid: str) -> None:
        word, _, rest = command.strip().partition(" ")
        if word == "originate":
            owner.call.note_callee_command()
        answered = GeventEvent()
        owner.pending_jobs.add(answered)
        try:
            body = self.api(command, owner=owner)
            owner.step()
            conn = owner.connection
            if conn is None or not conn.wants("BACKGROUND_JOB"):
                return
            head = self.event_head("BACKGROUND_JOB", *self.calling("BACKGROUND_JOB"))
            block = head + "".join(f"{k}: {url_encode(v)}\n" for k, v in (
                ("Job-UUID", job_uuid), ("Job-Owner-UUID", owner.uuid), ("Job-Command", word),
                ("Job-Command-Arg", rest)))
            conn.send(event_plain(block, body))
        finally:
            owner.pending_jobs.discard(answered)
            answered.set()

    def _originate(self, rest: str, owner: FakeLeg | None) -> str:
        tokens = _split_originate_args(rest)
        if not tokens:
            return "-ERR USAGE\n"
        variables, dial = _split_vars(tokens[0])
        app_tokens = tokens[1:]
        number = _dialled_number(dial)
        call = owner.call if owner is not None else FakeCall(self, None)
        script = call.script_for(number)
        if script.outcome != "answer":
            cause = FAILURES[script.outcome][0]
            if script.outcome == "no_answer":
                wait = script.ring_seconds if script.ring_seconds is not None else float(variables.get("originate_timeout", 60))
            else:
                wait = FAILURE_DELAY
            gevent.sleep(wait * self.time_scale)
            call.callee_failures.append((number, cause))
            return f"-ERR {cause}\n"
        gevent.sleep(script.answer_after * self.time_scale)
        socket_address, mode, control = _socket_target(app_tokens)
        leg = self._new_originated_leg(call, number, variables, script, str(uuid_module.uuid4()), socket_address)
        if socket_address is None:
            return f"+OK {leg.uuid}\n"
        conn = FakeConnection(self, leg, socket_address, mode, control)
        leg.connection = conn
        try:
            conn.open()
        except OSError:
            leg.hangup_started = True
            leg.hangup_cause = "DESTINATION_OUT_OF_ORDER"
            conn.closed.set()
            leg.hangup_done.set()
            return "-ERR DESTINATION_OUT_OF_ORDER\n"
        # The B connection reaches the app before the BACKGROUND_JOB reaches A (surprise 5).
        conn.connect_received.wait(2.0)
        return f"+OK {leg.uuid}\n"

    # ------------------------------------------------------------- helpers for tests
    def leg(self, uuid: str) -> FakeLeg:
        return self.legs[uuid]

    def close(self) -> None:
        for leg in list(self.legs.values()):
            if leg.connection is not None:
                leg.connection.close("fake FreeSWITCH shut down")


def _split_originate_args(text: str) -> list[str]:
    """Split like switch_separate_string: on spaces, honouring single quotes (02x pitfall)."""
    tokens, current, quoted = [], [], False
    for ch in text.strip():
        if ch == "'":
            quoted = not quoted
            continue
        if ch == " " and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        tokens.append("".join(current))
    return tokens


def _socket_target(app_tokens: list[str]):
    """(address, Socket-Mode, Control) of an ``&socket(...)`` originate application."""
    if not app_tokens or not app_tokens[0].startswith("&socket("):
        return None, "async", "full"
    if len(app_tokens) == 1:  # quoted: "&socket(host:port async full)"
        inner = app_tokens[0][len("&socket("):].rstrip(")")
        parts = inner.split()
    else:  # unquoted: the app becomes "socket host:port"; async/full) become other arguments
        parts = [app_tokens[0][len("&socket("):].rstrip(")")]
    host, _, port = parts[0].rpartition(":")
    mode = "async" if "async" in parts[1:] else "static"
    control = "full" if "full" in parts[1:] else "single-channel"
    return (host, int(port)), mode, control
