"""One FreeSWITCH channel of the fake: its channel data, variables and state, the frames it emits,
the queue of applications it runs (:mod:`.apps`, one tick apart) and its hangup in FreeSWITCH's
event order (fs-transcripts README, "Timing and order")."""

from __future__ import annotations

import time
import uuid as uuid_module
from typing import TYPE_CHECKING, Iterable

import gevent
from gevent.event import Event as GeventEvent

from . import fs_templates
from .apps import APPS, terminates
from .profiles import transferred_profile, with_callee_id
from .scripts import LegScript
from .wire import clock_us, disconnect_notice, event_plain, linger_notice, url_encode

if TYPE_CHECKING:
    from .call import FakeCall
    from .connection import FakeConnection
    from .switch import FakeFreeSwitch


STATE_NUMBERS = {"CS_NEW": 0, "CS_INIT": 1, "CS_ROUTING": 2, "CS_SOFT_EXECUTE": 3, "CS_EXECUTE": 4,
                 "CS_EXCHANGE_MEDIA": 5, "CS_PARK": 6, "CS_CONSUME_MEDIA": 7, "CS_HIBERNATE": 8,
                 "CS_RESET": 9, "CS_HANGUP": 10, "CS_REPORTING": 11, "CS_DESTROY": 12}


class AppRun:
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
        self._apps: list[AppRun] = []  # running, innermost last
        self._queue: list[AppRun] = []
        self._queue_event = GeventEvent()
        self._runner = None
        self.pending_presses = [p for p in script.presses if p.relative_to == "prompt"]
        self.digit_buffer: list[str] = []
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
        self.replace_caller_profile([(k, value if k == name else v) for k, v in self.caller_profile])

    def replace_caller_profile(self, profile: list[tuple[str, str]]) -> None:
        self.caller_profile = profile
        self._profile_cache = None

    def profile_time(self, name: str) -> int:
        try:
            return int(dict(self.caller_profile).get(name, "0") or 0)
        except ValueError:
            return 0

    # ------------------------------------------------------------- apps
    def queue_app(self, app: str, arg: str | None, app_uuid: str | None, *, event_lock: bool) -> AppRun:
        run = AppRun(app, arg, app_uuid or str(uuid_module.uuid4()))
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

    def _push(self, run: AppRun) -> None:
        if self._apps:
            self._apps[-1].wake.set()  # pause the outer app
        self._apps.append(run)

    def _pop(self, run: AppRun) -> None:
        if run in self._apps:
            self._apps.remove(run)
        if self._apps:
            self._apps[-1].wake.set()  # resume the outer app

    def media(self, run: AppRun, seconds: float, until=None) -> str | None:
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

    def _run_app(self, run: AppRun) -> None:
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
            handler = APPS.get(run.name)
            response = handler(self, run) if handler is not None else None
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

    # ------------------------------------------------------------- answer, keys
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
        self.reached("answer")

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
            terminates(self, running, digit)
            return
        self.digit_buffer.append(digit)
        if running is not None:
            running.wake.set()

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
        new_profile = with_callee_id(transferred_profile(self.caller_profile, peer.uuid), *callee)
        if not first:  # the originator shows the callee's caller id (02a A)
            new_profile = [(k, peer_profile.get(k, v)) if k in ("Caller-Caller-ID-Name", "Caller-Caller-ID-Number")
                           else (k, v) for k, v in new_profile]
        self.replace_caller_profile(new_profile)

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
        self.call._check_ended()
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
