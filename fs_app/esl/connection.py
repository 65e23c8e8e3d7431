"""One outbound Event Socket connection: a reader greenlet dispatching replies in FIFO order and
events by ``Application-UUID`` / ``Job-UUID``, the hangup and linger semantics every waiter sees,
and the primitive verbs (sendmsg execute, api, bgapi, getvar) the command vocabulary is built on."""

from __future__ import annotations

import collections
import logging
import time
import uuid as uuid_module
from typing import Callable, Iterable, Mapping

import gevent
from gevent.event import AsyncResult, Event as GeventEvent
from gevent.lock import Semaphore

from .errors import ChannelError, ChannelGone, ChannelTimeout, CommandError, OriginateFailed, ProtocolError
from .frames import EslEvent, HeaderBlock, Reply, command_frames, decode, parse_event, read_frames, subscription

# the channel's log keeps the name operators filter on, whichever module of the wrapper logs
log = logging.getLogger("fs_app.channel")

#: BACKGROUND_JOB results nobody waited for (yet) are kept this many at most.
MAX_UNCLAIMED_JOBS = 64


class Execution:
    """One ``sendmsg execute``; ``wait()`` returns its CHANNEL_EXECUTE_COMPLETE event."""

    __slots__ = ("channel", "app", "arg", "app_uuid", "tolerate_hangup", "_result", "_started")

    def __init__(self, channel: "Connection", app: str, arg: str | None, app_uuid: str, tolerate_hangup: bool):
        self.channel = channel
        self.app = app
        self.arg = arg
        self.app_uuid = app_uuid
        self.tolerate_hangup = tolerate_hangup
        self._result = AsyncResult()
        self._started = GeventEvent()  # its CHANNEL_EXECUTE came

    @property
    def done(self) -> bool:
        return self._result.ready()

    def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until FreeSWITCH started the application (its CHANNEL_EXECUTE) or it ended;
        False on timeout. A queued application is not stopped by ``uuid_break``: break it only
        once it runs."""
        timeout = self.channel.execute_timeout if timeout is None else timeout
        gevent.wait([self._started, self._result], timeout=timeout, count=1)
        return self._started.is_set() or self._result.ready()

    def wait(self, timeout: float | None = None) -> EslEvent:
        timeout = self.channel.execute_timeout if timeout is None else timeout
        try:
            return self._result.get(timeout=timeout)
        except gevent.Timeout:
            raise ChannelTimeout(
                f"{self.app} on {self.channel.uuid} did not complete within {timeout}s") from None

    def response(self, timeout: float | None = None) -> str | None:
        """Application-Response of the completion (``FILE PLAYED``, ``PLAYBACK ERROR``, ``_none_``)."""
        return self.wait(timeout).get("Application-Response")


class _JobWaiter(AsyncResult):
    __slots__ = ("tolerate_hangup",)

    def __init__(self, tolerate_hangup: bool):
        super().__init__()
        self.tolerate_hangup = tolerate_hangup


class BackgroundJob:
    """One ``bgapi`` FreeSWITCH took: :meth:`wait` returns the BACKGROUND_JOB body.
    ``executions``: the applications sent in the same write (:meth:`Connection.bgapi_async`)."""

    __slots__ = ("channel", "command", "job_uuid", "waiter", "executions")

    def __init__(self, channel: "Connection", command: str, job_uuid: str, tolerate_hangup: bool):
        self.channel = channel
        self.command = command
        self.job_uuid = job_uuid
        self.waiter = _JobWaiter(tolerate_hangup)
        self.executions: list[Execution] = []

    def wait(self, timeout: float | None = None) -> str:
        timeout = self.channel.execute_timeout if timeout is None else timeout
        try:
            return self.waiter.get(timeout=timeout).body or ""
        except gevent.Timeout:
            raise ChannelTimeout(f"no BACKGROUND_JOB for {self.command.split(' ', 1)[0]!r} "
                                 f"within {timeout}s") from None
        finally:
            if self.waiter.ready():
                self.channel._jobs.pop(self.job_uuid, None)

    def leg_uuid(self, timeout: float | None = None) -> str:
        """For an originate: the new leg's uuid once it answered; :class:`OriginateFailed`
        with FreeSWITCH's cause otherwise."""
        body = self.wait(timeout)
        if body.startswith("+OK"):
            return body[3:].strip()
        cause = body[4:].strip() if body.startswith("-ERR") else body.strip()
        raise OriginateFailed(cause or "UNKNOWN", body)

    def forget(self) -> None:
        self.channel._jobs.pop(self.job_uuid, None)
        for execution in self.executions:
            self.channel._executions.pop(execution.app_uuid, None)


class _EventWaiter:
    __slots__ = ("name", "predicate", "result", "tolerate_hangup")

    def __init__(self, name, predicate, tolerate_hangup):
        self.name = name
        self.predicate = predicate
        self.result = AsyncResult()
        self.tolerate_hangup = tolerate_hangup


class Connection:
    """An outbound Event Socket connection owning one FreeSWITCH channel.

    Create it with the accepted socket and call :meth:`connect` (the server does this and
    hands the connected channel to the call handler).
    """

    def __init__(self, sock, peer=None, *, command_timeout: float = 10.0,
                 execute_timeout: float = 600.0, event_log_size: int = 64):
        self._sock = sock
        self.peer = peer
        self.command_timeout = command_timeout
        self.execute_timeout = execute_timeout
        self._data = EslEvent({})  # connect reply; values url-decoded on access (memory: 2000+ calls)
        self.uuid: str | None = None
        self.hangup_cause: str | None = None
        self.answered = False
        self.lingering = False
        self.bridged_with: str | None = None
        self.hangup_event: EslEvent | None = None  # CHANNEL_HANGUP_COMPLETE, once it came
        self.dtmf: list[str] = []  # keys the far end pressed (DTMF events), in order
        self.dtmf_stamps: list[str | None] = []  # their Event-Date-Timestamp (microseconds)
        self.event_log: collections.deque = collections.deque(maxlen=event_log_size)
        self._hangup_seen = False
        self._closed = False
        self._close_reason = ""
        self._send_lock = Semaphore()
        self._replies: collections.deque[AsyncResult] = collections.deque()
        self._executions: dict[str, Execution] = {}
        self._jobs: dict[str, _JobWaiter] = {}
        self._unclaimed_jobs: collections.OrderedDict[str, EslEvent] = collections.OrderedDict()
        self._event_waiters: list[_EventWaiter] = []
        self._hangup_complete = GeventEvent()
        self._bridged = GeventEvent()
        self._gone_event = GeventEvent()
        self._connect_reply_pending = False
        self._reader = None

    # ------------------------------------------------------------------ state
    @property
    def is_gone(self) -> bool:
        """True once the channel hung up or the socket is gone."""
        return self._hangup_seen or self._closed

    @property
    def socket_closed(self) -> bool:
        return self._closed

    @property
    def data(self) -> dict[str, str]:
        """The whole connect reply (channel data), url-decoded (a new dict)."""
        return self._data.headers

    def get(self, header: str, default: str | None = None) -> str | None:
        """A header of the connect reply (channel data), url-decoded."""
        return self._data.get(header, default)

    def variable(self, name: str, default: str | None = None) -> str | None:
        """A channel variable from the connect reply (``variable_<name>``), url-decoded."""
        return self._data.get("variable_" + name, default)

    def _log(self, direction: str, summary: str) -> None:
        self.event_log.append((time.monotonic(), direction, summary))

    # ------------------------------------------------------------------ setup
    def connect(self, *, linger: bool = True, events: Iterable[str] = ("BACKGROUND_JOB",),
                timeout: float | None = None) -> "Connection":
        """``connect``, ``myevents``, ``event plain <events>``, ``linger``.

        Starts the reader greenlet. ``events`` are added to the myevents subscription
        (BACKGROUND_JOB is needed for :meth:`bgapi`; add RECORD_START/RECORD_STOP etc.).
        """
        if self._reader is not None:
            raise RuntimeError("connect() called twice")
        self._connect_reply_pending = True
        self._reader = gevent.spawn(self._read_loop)
        # in one write: one round trip of post-dial delay instead of three or four
        commands = ["connect", "myevents"]
        events = [e for e in events if e]
        if events:
            commands.append(subscription(events))
        if linger:
            commands.append("linger")
        replies = self._commands([(command, None) for command in commands], timeout)
        self._data = EslEvent(replies[0].headers)
        self.uuid = self._data.get("Unique-ID")
        if self.uuid is None:
            raise self._protocol_failure("connect reply without Unique-ID")
        self.answered = self._data.get("Answer-State") == "answered"
        if linger:
            reply = replies[-1]
            if reply.ok:
                self.lingering = True
            else:  # static/single-channel sockets (unquoted &socket) refuse linger
                log.warning("call %s: linger refused (%s); Socket-Mode=%s Control=%s", self.uuid,
                            reply.text, self.get("Socket-Mode"), self.get("Control"))
        return self

    def subscribe(self, *event_names: str, timeout: float | None = None) -> None:
        """``event plain NAME...`` in addition to myevents."""
        self._command(subscription(event_names), timeout=timeout)

    # ------------------------------------------------------------------ reading
    def _read_loop(self) -> None:
        try:
            for headers, body in read_frames(self._sock.recv):
                self._dispatch(headers, body)
            self._lost("connection closed by FreeSWITCH")
        except OSError as exc:
            self._lost(f"socket error: {exc}")
        except ProtocolError as exc:
            self._protocol_failure(str(exc))
        except gevent.GreenletExit:
            raise
        except Exception as exc:  # never let a parsing bug take the process down
            log.exception("call %s: Event Socket reader failed", self.uuid)
            self._lost(f"reader failed: {exc!r}")

    def _protocol_failure(self, reason: str) -> ProtocolError:
        log.error("call %s: malformed Event Socket data from %s: %s; dropping the channel",
                  self.uuid, self.peer, reason)
        self._lost(f"protocol error: {reason}")
        return ProtocolError(reason)

    def _dispatch(self, headers: HeaderBlock, body: str | None) -> None:
        content_type = headers.get("Content-Type")
        if content_type == "text/event-plain":
            if body is None:
                raise ProtocolError("text/event-plain without body")
            self._on_event(parse_event(body))
        elif content_type == "command/reply":
            if self._connect_reply_pending:
                self._connect_reply_pending = False
                text = decode(headers.get("Reply-Text", ""))
            else:
                text = headers.get("Reply-Text", "")
            self._log("in", "reply " + text.strip()[:80])
            self._resolve_reply(Reply(content_type, headers, text))
        elif content_type == "api/response":
            self._log("in", "api " + (body or "").strip()[:80])
            self._resolve_reply(Reply(content_type, headers, body or ""))
        elif content_type == "text/disconnect-notice":
            disposition = headers.get("Content-Disposition")
            self._log("in", f"disconnect-notice {disposition}")
            if disposition == "linger":
                self.lingering = True
            else:
                self._lost("FreeSWITCH sent disconnect notice")
        elif content_type is None:
            raise ProtocolError(f"frame without Content-Type (headers {list(headers)[:5]})")
        else:
            self._log("in", f"ignored {content_type}")
            log.debug("call %s: ignoring %s frame", self.uuid, content_type)

    def _resolve_reply(self, reply: Reply) -> None:
        if not self._replies:
            log.warning("call %s: unsolicited %s %r", self.uuid, reply.content_type, reply.text[:80])
            return
        self._replies.popleft().set(reply)

    def _on_event(self, ev: EslEvent) -> None:
        raw = ev.raw
        name = raw.get("Event-Name")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = raw.get("Application-UUID")
            self._log("in", f"{name} {raw.get('Application')} {decode(raw.get('Application-Response', ''))}")
            execution = self._executions.pop(app_uuid, None) if app_uuid else None
            if execution is not None:
                execution._result.set(ev)
        elif name == "CHANNEL_EXECUTE":
            app_uuid = raw.get("Application-UUID")
            self._log("in", f"{name} {raw.get('Application')}")
            execution = self._executions.get(app_uuid) if app_uuid else None
            if execution is not None:
                execution._started.set()
        elif name == "BACKGROUND_JOB":
            job_uuid = raw.get("Job-UUID", "")
            self._log("in", f"{name} {job_uuid} {(ev.body or '').strip()[:60]}")
            waiter = self._jobs.pop(job_uuid, None)
            if waiter is not None:
                waiter.set(ev)
            else:
                self._unclaimed_jobs[job_uuid] = ev
                while len(self._unclaimed_jobs) > MAX_UNCLAIMED_JOBS:
                    self._unclaimed_jobs.popitem(last=False)
        elif name == "DTMF":
            digit = ev.get("DTMF-Digit", "")
            self.dtmf.append(digit)
            self.dtmf_stamps.append(raw.get("Event-Date-Timestamp"))
            self._log("in", f"DTMF {digit}")
        elif name == "CHANNEL_ANSWER":
            self.answered = True
            self._log("in", name)
        elif name == "CHANNEL_BRIDGE":
            a, b = raw.get("Bridge-A-Unique-ID"), raw.get("Bridge-B-Unique-ID")
            self.bridged_with = b if a == self.uuid else a
            self._bridged.set()
            self._log("in", f"{name} {a} {b}")
        elif name == "CHANNEL_HANGUP":
            self._log("in", f"{name} {raw.get('Hangup-Cause')}")
            self._on_hangup(raw.get("Hangup-Cause"))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self._log("in", f"{name} {raw.get('Hangup-Cause')}")
            self.hangup_event = ev
            self._on_hangup(raw.get("Hangup-Cause"))
            self._on_hangup_complete()
        else:
            self._log("in", f"{name} {raw.get('Application', '')}".rstrip())
        if self._event_waiters:
            for waiter in list(self._event_waiters):
                if waiter.name == name and (waiter.predicate is None or waiter.predicate(ev)):
                    self._event_waiters.remove(waiter)
                    waiter.result.set(ev)

    def _on_hangup(self, cause: str | None) -> None:
        if self._hangup_seen:
            return
        self._hangup_seen = True
        self.hangup_cause = cause
        self._gone_event.set()
        for app_uuid, execution in list(self._executions.items()):
            if not execution.tolerate_hangup:
                del self._executions[app_uuid]
                execution._result.set_exception(ChannelGone(cause, f"hangup while waiting for {execution.app}"))
        for job_uuid, waiter in list(self._jobs.items()):
            if not waiter.tolerate_hangup:
                del self._jobs[job_uuid]
                waiter.set_exception(ChannelGone(cause, "hangup while waiting for a background job"))
        for waiter in list(self._event_waiters):
            if not waiter.tolerate_hangup:
                self._event_waiters.remove(waiter)
                waiter.result.set_exception(ChannelGone(cause, f"hangup while waiting for {waiter.name}"))

    def _on_hangup_complete(self) -> None:
        self._hangup_complete.set()
        # No CHANNEL_EXECUTE_COMPLETE can follow HANGUP_COMPLETE: release tolerant waiters too.
        for execution in self._executions.values():
            execution._result.set_exception(ChannelGone(self.hangup_cause, f"{execution.app} never completed"))
        self._executions.clear()

    def _lost(self, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self._close_reason = reason
        self._log("--", reason)
        cause = self.hangup_cause
        self._gone_event.set()
        self._hangup_complete.set()
        while self._replies:
            self._replies.popleft().set_exception(ChannelGone(cause, reason))
        for execution in self._executions.values():
            execution._result.set_exception(ChannelGone(cause, reason))
        self._executions.clear()
        for waiter in self._jobs.values():
            waiter.set_exception(ChannelGone(cause, reason))
        self._jobs.clear()
        for waiter in self._event_waiters:
            waiter.result.set_exception(ChannelGone(cause, reason))
        self._event_waiters.clear()
        try:
            self._sock.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ writing
    def _gone_error(self, what: str) -> ChannelGone:
        return ChannelGone(self.hangup_cause, self._close_reason or f"{what} after hangup")

    def _send(self, data: str, replies: int) -> list[AsyncResult]:
        """Write ``data`` (``replies`` commands); an AsyncResult per reply, in order."""
        if self._closed:
            raise self._gone_error("send")
        results = [AsyncResult() for _ in range(replies)]
        with self._send_lock:
            if self._closed:
                raise self._gone_error("send")
            self._replies.extend(results)
            try:
                self._sock.sendall(data.encode("utf-8"))
            except OSError as exc:
                self._lost(f"socket error on send: {exc}")
                raise self._gone_error("send") from None
        return results

    def _command(self, command: str, headers: Mapping[str, str] | None = None,
                 timeout: float | None = None) -> Reply:
        return self._commands([(command, headers)], timeout)[0]

    def _commands(self, commands: list[tuple[str, Mapping[str, str] | None]],
                  timeout: float | None = None) -> list[Reply]:
        """Send (command, headers) pairs in one write; their replies, in order. FreeSWITCH reads
        and answers commands one at a time, so several cost one round trip."""
        for command, _ in commands:
            self._log("out", command if len(command) < 120 else command[:117] + "...")
        results = self._send(command_frames(commands), len(commands))
        timeout = self.command_timeout if timeout is None else timeout
        replies: list[Reply] = []
        with gevent.Timeout(timeout, False):
            for result in results:
                replies.append(result.get())
            return replies
        # A late reply still pops its (now abandoned) slot, keeping the FIFO aligned.
        raise ChannelTimeout(f"no reply to {commands[len(replies)][0].split(' ', 1)[0]!r} within {timeout}s")

    # ------------------------------------------------------------------ executing
    def execute_async(self, app: str, arg: str | None = None, *, event_lock: bool = True,
                      tolerate_hangup: bool = False) -> Execution:
        """Send ``sendmsg execute`` and return at once (after FreeSWITCH's ``+OK``).

        ``event_lock=False`` lets a later app start *nested inside* this one (fs-transcripts
        01b): use it for a ringback that keeps playing while other things happen.
        """
        execution, headers = self._prepare_execution(app, arg, event_lock=event_lock,
                                                     tolerate_hangup=tolerate_hangup)
        try:
            reply = self._command("sendmsg", headers)
        except ChannelError:
            self._executions.pop(execution.app_uuid, None)
            raise
        if not reply.ok:
            self._executions.pop(execution.app_uuid, None)
            raise CommandError(f"execute {app}", reply.text)
        return execution

    def execute_in_one_write(self, apps: Iterable[tuple[str, str | None]], *,
                             before: Iterable[str] = (), tolerate_hangup: bool = False) -> list[Execution]:
        """Send the commands ``before`` and then the applications ``(app, arg)``, all in one write
        (each application with event-lock, so they run in order); their executions."""
        commands: list[tuple[str, Mapping[str, str] | None]] = [(command, None) for command in before]
        executions = []
        for app, arg in apps:
            execution, headers = self._prepare_execution(app, arg, event_lock=True, tolerate_hangup=tolerate_hangup)
            executions.append(execution)
            commands.append(("sendmsg", headers))
        try:
            replies = self._commands(commands)
        except ChannelError:
            for execution in executions:
                self._executions.pop(execution.app_uuid, None)
            raise
        refused = [reply.text for reply in replies[len(replies) - len(executions):] if not reply.ok]
        if refused:
            for execution in executions:
                self._executions.pop(execution.app_uuid, None)
            raise CommandError("execute " + ", ".join(execution.app for execution in executions), refused[0])
        return executions

    def _prepare_execution(self, app: str, arg: str | None, *, event_lock: bool,
                           tolerate_hangup: bool) -> "tuple[Execution, dict[str, str]]":
        """An Execution registered for its completion, and its sendmsg headers."""
        if self.is_gone:
            raise self._gone_error(app)
        app_uuid = str(uuid_module.uuid4())
        execution = Execution(self, app, arg, app_uuid, tolerate_hangup)
        headers = {"call-command": "execute", "execute-app-name": app}
        if arg is not None:
            headers["execute-app-arg"] = arg
        if event_lock:
            headers["event-lock"] = "true"
        headers["Event-UUID"] = app_uuid
        self._executions[app_uuid] = execution  # before sending: the completion may come first
        return execution, headers

    def execute(self, app: str, arg: str | None = None, *, event_lock: bool = True,
                timeout: float | None = None, tolerate_hangup: bool = False) -> EslEvent:
        """Execute an application and return *its* CHANNEL_EXECUTE_COMPLETE event."""
        return self.execute_async(app, arg, event_lock=event_lock,
                                  tolerate_hangup=tolerate_hangup).wait(timeout)

    def hangup(self, cause: str = "NORMAL_CLEARING", *, wait: bool = False,
               timeout: float | None = None) -> str | None:
        """Hang the channel up; no-op if already gone. With ``wait`` returns the final cause."""
        if not self.is_gone:
            try:
                reply = self._command("sendmsg", {"call-command": "hangup", "hangup-cause": cause},
                                      timeout=timeout)
            except ChannelGone:
                return self.hangup_cause
            if not reply.ok:
                raise CommandError("hangup", reply.text)
        if wait:
            return self.wait_hangup(timeout)
        return self.hangup_cause

    # ------------------------------------------------------------------ waiting
    def wait_hangup(self, timeout: float | None = None) -> str | None:
        """Block until CHANNEL_HANGUP (or the socket is gone); returns the hangup cause."""
        timeout = self.execute_timeout if timeout is None else timeout
        if not self._gone_event.wait(timeout):
            raise ChannelTimeout(f"call {self.uuid} still up after {timeout}s")
        return self.hangup_cause

    def wait_hangup_complete(self, timeout: float | None = None) -> EslEvent | None:
        """Block until CHANNEL_HANGUP_COMPLETE (or the socket is gone) and return that event,
        with the final times and variables (``Caller-Channel-Answered-Time``,
        ``Caller-Channel-Hangup-Time``, ``variable_billsec``); ``None`` when the socket went
        away without it."""
        timeout = self.execute_timeout if timeout is None else timeout
        if not self._hangup_complete.wait(timeout):
            raise ChannelTimeout(f"no CHANNEL_HANGUP_COMPLETE on {self.uuid} within {timeout}s")
        return self.hangup_event

    def wait_bridged(self, timeout: float | None = None) -> str:
        """Wait for CHANNEL_BRIDGE (returns at once if it already came); returns the other uuid.

        Only the *first* uuid of ``uuid_bridge`` and the A-leg of the ``bridge`` app ever get
        CHANNEL_BRIDGE (fs-transcripts 02): call this on that side only.
        """
        timeout = self.execute_timeout if timeout is None else timeout
        waiter = gevent.wait([self._bridged, self._gone_event], timeout=timeout, count=1)
        if self._bridged.is_set():
            return self.bridged_with
        if waiter:
            raise self._gone_error("wait for CHANNEL_BRIDGE")
        raise ChannelTimeout(f"call {self.uuid} not bridged within {timeout}s")

    def wait_for_event(self, name: str, predicate: Callable[[EslEvent], bool] | None = None, *,
                       timeout: float | None = None, tolerate_hangup: bool = False) -> EslEvent:
        """Wait for the next event ``name`` (matching ``predicate``) on this channel."""
        if self._closed or (self._hangup_seen and not tolerate_hangup):
            raise self._gone_error(f"wait for {name}")
        waiter = _EventWaiter(name, predicate, tolerate_hangup)
        self._event_waiters.append(waiter)
        timeout = self.execute_timeout if timeout is None else timeout
        try:
            return waiter.result.get(timeout=timeout)
        except gevent.Timeout:
            raise ChannelTimeout(f"no {name} on {self.uuid} within {timeout}s") from None
        finally:
            if waiter in self._event_waiters:
                self._event_waiters.remove(waiter)

    # ------------------------------------------------------------------ api
    def getvar(self, name: str, *, timeout: float | None = None) -> str | None:
        """Current value of a channel variable (``getvar``); ``None`` when unset."""
        value = self._command(f"getvar {name}", timeout=timeout).text
        # an unset variable is answered "-ERR command not found" (fs-transcripts 08a/08c)
        return None if value in ("", "_undef_", "-ERR command not found") else value

    def api(self, command: str, *, timeout: float | None = None) -> str:
        """Synchronous ``api``; returns the raw body (``+OK ...\\n`` / ``-ERR ...\\n``)."""
        reply = self._command(f"api {command}", timeout=timeout)
        if reply.content_type != "api/response":  # e.g. "-ERR command not found" on static sockets
            raise CommandError(f"api {command}", reply.text)
        return reply.text

    def bgapi(self, command: str, *, timeout: float | None = None, tolerate_hangup: bool = False) -> str:
        """``bgapi``; waits for the BACKGROUND_JOB with our Job-UUID and returns its body."""
        return self.bgapi_async(command, tolerate_hangup=tolerate_hangup).wait(timeout)

    def bgapi_async(self, command: str, *, tolerate_hangup: bool = False,
                    then: Iterable[tuple[str, str | None]] = ()) -> BackgroundJob:
        """Send ``bgapi`` and return at once (after FreeSWITCH's ``+OK Job-UUID``): FreeSWITCH
        runs the command in a thread of its own meanwhile. ``then`` are applications
        (``(app, arg)``) executed on this channel, written in the same write (one round trip
        for all; each with event-lock, so they run in order): see :attr:`BackgroundJob.executions`."""
        if self._closed or (self._hangup_seen and not tolerate_hangup):
            raise self._gone_error("bgapi")
        job_uuid = str(uuid_module.uuid4())
        job = BackgroundJob(self, command, job_uuid, tolerate_hangup)
        self._jobs[job_uuid] = job.waiter
        commands = [(f"bgapi {command}", {"Job-UUID": job_uuid})]
        for app, arg in then:
            execution, headers = self._prepare_execution(app, arg, event_lock=True, tolerate_hangup=False)
            job.executions.append(execution)
            commands.append(("sendmsg", headers))
        try:
            replies = self._commands(commands)
        except ChannelError:
            job.forget()
            raise
        reply = replies[0]
        for execution, app_reply in zip(job.executions, replies[1:]):
            if not app_reply.ok:
                self._executions.pop(execution.app_uuid, None)
                execution._result.set_exception(CommandError(f"execute {execution.app}", app_reply.text))
        if not reply.ok:
            job.forget()
            raise CommandError(f"bgapi {command}", reply.text)
        actual = reply.headers.get("Job-UUID", job_uuid)
        if actual != job_uuid:  # a FreeSWITCH that ignored our Job-UUID
            self._jobs[actual] = self._jobs.pop(job_uuid)
            job.job_uuid = actual
        early = self._unclaimed_jobs.pop(job.job_uuid, None)
        if early is not None:
            job.waiter.set(early)
        return job

    # ------------------------------------------------------------------ closing
    def exit(self, timeout: float | None = None) -> None:
        """Send ``exit`` (releases a lingering socket) and close; never raises ChannelGone."""
        if not self._closed:
            try:
                self._command("exit", timeout=timeout if timeout is not None else min(self.command_timeout, 2.0))
            except ChannelError:
                pass
        self.close()

    def close(self) -> None:
        if not self._closed:
            self._lost("closed by the app")
        reader = self._reader
        if reader is not None and not reader.dead and reader is not gevent.getcurrent():
            reader.kill(block=False)
