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
process's one clock (``domain.clock``), so they agree with the app's ``utcnow()`` under a pinned
test clock. FreeSWITCH's scheduler (sched_hangup, sched_broadcast) can be held still
(:meth:`FakeFreeSwitch.hold_scheduler`): at time_scale 0.01 a two-minute duration limit is 1.2 s,
less than the app may need to prompt and bridge on a busy machine.
"""

from __future__ import annotations

import itertools
import uuid as uuid_module

import gevent

from . import api, fs_templates, originate
from .call import FakeCall
from .connection import FakeConnection
from .leg import FakeLeg
from .scheduler import FS_TICK, Scheduler
from .scripts import LEG_PREFIXES, LegScript
from .wire import clock_us, event_date_headers, url_encode

_TEMPLATE_A_UUID = "5d660a80-a021-42c7-adef-2441f6c60b13"


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
        self._sequence = itertools.count(4419)
        self.session_ids = itertools.count(144)
        self._static_head = ("Core-UUID: %s\nFreeSWITCH-Hostname: fs1\nFreeSWITCH-Switchname: fs1\n"
                             "FreeSWITCH-IPv4: 192.0.2.2\nFreeSWITCH-IPv6: fd00%%3A%%3A2\n" % self.core_uuid)
        self._date_cache: tuple[int, str] = (-1, "")
        self.scheduler = Scheduler(time_scale)


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
                value = str(next(self.session_ids))
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
        self.arm_script(leg)

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

    def arm_script(self, leg: FakeLeg) -> None:
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

    # ------------------------------------------------------------- api (.api, .originate)
    def api(self, command: str, owner: FakeLeg | None = None) -> str:
        """Run an api command like mod_commands does; returns the api/response body."""
        return api.run(self, command, owner)

    def background_job(self, command: str, owner: FakeLeg, job_uuid: str) -> None:
        api.background_job(self, command, owner, job_uuid)

    def broadcast(self, leg: FakeLeg, path: str, which: str = "aleg") -> None:
        api.broadcast(leg, path, which)

    def new_originated_leg(self, call: FakeCall, number: str, variables: dict[str, str], script: LegScript,
                           b_uuid: str, socket_address) -> FakeLeg:
        return originate.new_originated_leg(self, call, number, variables, script, b_uuid, socket_address)

    # ------------------------------------------------------------- FreeSWITCH's scheduler (.scheduler)
    def scheduler_seconds(self) -> float:
        return self.scheduler.seconds()

    def hold_scheduler(self) -> None:
        """Stop FreeSWITCH's scheduler clock: sched_hangup / sched_broadcast tasks are accepted
        (and sched_del removes them) but none fires until :meth:`release_scheduler`. For tests in
        which a scaled duration limit would otherwise race the app's own (unscaled) work."""
        self.scheduler.hold()

    def release_scheduler(self) -> None:
        """Let FreeSWITCH's scheduler clock run again from where it stood."""
        self.scheduler.release()

    def schedule(self, seconds: int, func, *args, group: str | None = None) -> None:
        self.scheduler.schedule(seconds, func, *args, group=group)

    def unschedule(self, group: str) -> int:
        return self.scheduler.unschedule(group)

    # ------------------------------------------------------------- helpers for tests
    def leg(self, uuid: str) -> FakeLeg:
        return self.legs[uuid]

    def close(self) -> None:
        for leg in list(self.legs.values()):
            if leg.connection is not None:
                leg.connection.close("fake FreeSWITCH shut down")

