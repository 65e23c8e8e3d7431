"""One FreeSWITCH channel over an outbound Event Socket connection.

This is the only module that knows Event Socket wire details. Everything else sees a
:class:`Channel` with straight-line, blocking (gevent) methods.

Why not greenswitch's ``ESLProtocol``/``OutboundSession``
---------------------------------------------------------
greenswitch is fine for a quick script, but on the post-dial-delay path of every call it
gets in the way:

* it matches CHANNEL_EXECUTE_COMPLETE by application *name*, so the second ``playback`` of
  a call can wake the waiter of the first; FreeSWITCH copies our ``Event-UUID`` to the
  ``Application-UUID`` of exactly that execution (fs-transcripts 01), which is what we match;
* it url-decodes a whole frame *before* splitting it into lines, so a value holding
  ``%0A`` (``Reply-Text: %2BOK%0A`` of every connect reply, SDP bodies) is split into bogus
  continuation lines;
* it reads line by line, concatenating strings, and a bad ``Content-Length`` kills its reader
  greenlet with an unhandled exception (or blocks forever);
* it runs two greenlets per connection and its dispatcher polls a queue with a 1 s timeout.

So the framing is written here: one reader greenlet per connection reads into a bytearray,
cuts frames at the first blank line plus ``Content-Length`` bytes, and dispatches replies in
FIFO order and events by ``Application-UUID`` / ``Job-UUID``. Event headers are split once and
url-decoded lazily, only for the headers somebody reads. greenswitch still fits in one place:
:class:`ChannelGone` subclasses its ``OutboundSessionHasGoneAway`` so code written against
greenswitch catches ours too (and the benchmark's baseline app uses greenswitch as is).

Hangup semantics (what a waiter sees)
-------------------------------------
* Once ``CHANNEL_HANGUP`` has been seen (or a disconnect notice, or the socket is lost), every
  *channel* operation raises :class:`ChannelGone` carrying the hangup cause (``None`` when
  unknown, e.g. the socket dropped): ``execute`` and its wrappers (``answer``, ``playback``,
  ``play_and_get_digits``, ``set_var``, ...), ``bgapi``/``originate`` and ``wait_for_event``.
  A greenlet already blocked in one of them is woken at once with :class:`ChannelGone`:
  it does not wait for the running application's ``PLAYBACK ERROR`` completion.
* Explicitly tolerant calls: pass ``tolerate_hangup=True`` to ``execute``/``playback``/
  ``bgapi``/``wait_for_event`` to keep waiting across the hangup (an execute then returns its
  completion, e.g. ``Application-Response: PLAYBACK ERROR``). ``api`` and ``getvar`` are tolerant
  by default because FreeSWITCH answers them at once even on a lingering, hung-up session
  (fs-transcripts 04a) -- e.g. ``api uuid_kill <other leg>`` during cleanup. ``wait_hangup``,
  ``hangup`` and ``exit`` are always tolerant.
* An execute *started* after the hangup raises :class:`ChannelGone` at once: FreeSWITCH would
  answer ``+OK`` and then never run it.
* A lost socket, a ``text/disconnect-notice`` of disposition ``disconnect``, or a malformed
  frame make every call raise :class:`ChannelGone`, tolerant or not.

Every wait has a timeout (:class:`ChannelTimeout`): command replies use ``command_timeout``;
executions default to ``execute_timeout``; each method takes ``timeout=`` to override.
"""

from __future__ import annotations

import collections
import logging
import time
import uuid as uuid_module
from typing import Callable, Iterable, Mapping
from urllib.parse import unquote

import gevent
from gevent.event import AsyncResult, Event as GeventEvent
from gevent.lock import Semaphore
from greenswitch.esl import OutboundSessionHasGoneAway

log = logging.getLogger(__name__)

#: A header block (or connect reply) larger than this without a blank line is garbage.
MAX_HEADER_BLOCK_BYTES = 512 * 1024
#: A Content-Length larger than this is garbage (FreeSWITCH events are a few KiB).
MAX_BODY_BYTES = 16 * 1024 * 1024
#: BACKGROUND_JOB results nobody waited for (yet) are kept this many at most.
MAX_UNCLAIMED_JOBS = 64

_READ_SIZE = 65536


class ChannelError(Exception):
    """Base class of everything this module raises."""


class ChannelGone(ChannelError, OutboundSessionHasGoneAway):
    """The channel hung up or the Event Socket connection is gone.

    ``cause`` is the FreeSWITCH hangup cause when known (``NORMAL_CLEARING``,
    ``ALLOTTED_TIMEOUT``, ...), ``None`` when the socket was lost before any hangup event.
    """

    def __init__(self, cause: str | None, reason: str = ""):
        self.cause = cause
        self.reason = reason
        super().__init__(f"channel gone (cause={cause or 'unknown'}){': ' + reason if reason else ''}")


class ChannelTimeout(ChannelError):
    """A wait on the channel exceeded its timeout."""


class CommandError(ChannelError):
    """FreeSWITCH answered a command with ``-ERR ...``."""

    def __init__(self, command: str, reply: str):
        self.command = command
        self.reply = reply
        super().__init__(f"{command!r} failed: {reply.strip()}")


class OriginateFailed(ChannelError):
    """``originate`` returned ``-ERR <CAUSE>`` (USER_BUSY, NO_ANSWER, CALL_REJECTED, ...)."""

    def __init__(self, cause: str, body: str):
        self.cause = cause
        self.body = body
        super().__init__(f"originate failed: {cause}")


class ProtocolError(ChannelError):
    """The peer sent something that is not Event Socket framing."""


def _decode(value: str) -> str:
    return unquote(value) if "%" in value else value


def _parse_header_lines(block: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split("\n"):
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            if line.endswith(":"):  # "Name:" with an empty value
                headers[line[:-1]] = ""
                continue
            raise ProtocolError(f"header line without ': ' separator: {line[:80]!r}")
        headers[name] = value
    return headers


def _subscription(event_names: Iterable[str]) -> str:
    return "event plain " + " ".join(event_names)


class HeaderBlock:
    """A header block (``Name: value`` lines) kept as one string; values are found on demand.

    An event or a connect reply carries ~150-200 headers of which a call reads a handful:
    splitting every line into a dict cost more than everything else the reader did, and the
    dict of a connect reply (kept for the whole call) is several times the size of its text.
    ``get`` finds ``\nName: `` in the text (the last occurrence wins, as in a dict built line by
    line; values are url-encoded by FreeSWITCH, so a line break always starts a header line).
    The dict is built only when the whole block is asked for (``items``, iteration).

    Well-formedness is checked at construction: a block with fewer ``: `` separators (or
    ``Name:`` empty-value lines) than lines is parsed at once, which raises
    :class:`ProtocolError` for its bad line exactly as before.
    """

    __slots__ = ("_text", "_dict")

    def __init__(self, block: str):
        block = block.strip("\n")
        lines = block.count("\n") + 1 if block else 0
        separators = block.count(": ")
        if separators < lines:  # empty values ("Name:") are rare: count them only when needed
            separators += block.count(":\n") + (block[-1:] == ":")
        if separators < lines:
            self._dict = _parse_header_lines(block)  # raises for a line without a separator
            self._text = None
        else:
            self._dict = None
            self._text = "\n" + block + "\n"

    def get(self, name: str, default: str | None = None) -> str | None:
        if self._dict is not None:
            return self._dict.get(name, default)
        text = self._text
        # one scan: a name holds no ":", so "\nName:" starts a line of exactly this header,
        # either "Name: value" or the empty "Name:"
        at = text.rfind("\n" + name + ":")
        if at < 0:
            return default
        start = at + len(name) + 2
        if text[start] != " ":
            return ""
        start += 1
        return text[start:text.index("\n", start)]

    def _full(self) -> dict[str, str]:
        if self._dict is None:
            self._dict = _parse_header_lines(self._text)
            self._text = None
        return self._dict

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self):
        return iter(self._full())

    def __len__(self) -> int:
        return len(self._full())

    def items(self):
        return self._full().items()

    def keys(self):
        return self._full().keys()

    def values(self):
        return self._full().values()

    def __eq__(self, other) -> bool:
        if isinstance(other, HeaderBlock):
            other = other._full()
        return self._full() == other

    __hash__ = None

    def __repr__(self) -> str:
        return f"HeaderBlock({self._full()!r})"


class EslEvent:
    """A ``text/event-plain`` event. Header values are url-decoded on first access."""

    __slots__ = ("_raw", "_decoded", "body")

    def __init__(self, raw_headers: "dict[str, str] | HeaderBlock", body: str | None = None):
        self._raw = raw_headers
        self._decoded: dict[str, str] | None = None
        self.body = body

    @property
    def name(self) -> str | None:
        return self._raw.get("Event-Name")

    def get(self, name: str, default: str | None = None) -> str | None:
        decoded = self._decoded
        if decoded is None:
            decoded = self._decoded = {}
        else:
            try:
                return decoded[name]
            except KeyError:
                pass
        raw = self._raw.get(name)
        if raw is None:
            return default
        value = decoded[name] = _decode(raw)
        return value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return name in self._raw

    def variable(self, name: str, default: str | None = None) -> str | None:
        return self.get("variable_" + name, default)

    @property
    def headers(self) -> dict[str, str]:
        """All headers, decoded (builds a new dict: for debugging and tests)."""
        return {name: _decode(value) for name, value in self._raw.items()}

    def __repr__(self) -> str:
        return f"<EslEvent {self.name} {self._raw.get('Application', '')} {self._raw.get('Unique-ID', '')}>"


class Reply:
    """A ``command/reply`` (``text`` = Reply-Text) or ``api/response`` (``text`` = body)."""

    __slots__ = ("content_type", "headers", "text")

    def __init__(self, content_type: str, headers: dict[str, str], text: str):
        self.content_type = content_type
        self.headers = headers
        self.text = text

    @property
    def ok(self) -> bool:
        return not self.text.startswith("-ERR")


class Execution:
    """One ``sendmsg execute``; ``wait()`` returns its CHANNEL_EXECUTE_COMPLETE event."""

    __slots__ = ("channel", "app", "arg", "app_uuid", "tolerate_hangup", "_result", "_started")

    def __init__(self, channel: "Channel", app: str, arg: str | None, app_uuid: str, tolerate_hangup: bool):
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
    ``executions``: the applications sent in the same write (:meth:`Channel.bgapi_async`)."""

    __slots__ = ("channel", "command", "job_uuid", "waiter", "executions")

    def __init__(self, channel: "Channel", command: str, job_uuid: str, tolerate_hangup: bool):
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


class Channel:
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
                timeout: float | None = None) -> "Channel":
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
            commands.append(_subscription(events))
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
        self._command(_subscription(event_names), timeout=timeout)

    # ------------------------------------------------------------------ reading
    def _read_loop(self) -> None:
        buf = bytearray()
        pending_headers: HeaderBlock | None = None
        need = 0
        recv = self._sock.recv
        try:
            while True:
                try:
                    data = recv(_READ_SIZE)
                except OSError as exc:
                    self._lost(f"socket error: {exc}")
                    return
                if not data:
                    self._lost("connection closed by FreeSWITCH")
                    return
                buf += data
                pos = 0
                while True:
                    if pending_headers is None:
                        end = buf.find(b"\n\n", pos)
                        if end < 0:
                            if len(buf) - pos > MAX_HEADER_BLOCK_BYTES:
                                raise ProtocolError(f"no frame end within {MAX_HEADER_BLOCK_BYTES} bytes")
                            break
                        block = buf[pos:end].decode("utf-8", "replace")
                        pos = end + 2
                        if not block.strip("\n"):
                            continue
                        headers = HeaderBlock(block)
                        length = headers.get("Content-Length")
                        if length is None:
                            self._dispatch(headers, None)
                            continue
                        try:
                            need = int(length)
                        except ValueError:
                            raise ProtocolError(f"bad Content-Length {length[:40]!r}") from None
                        if need < 0 or need > MAX_BODY_BYTES:
                            raise ProtocolError(f"bad Content-Length {need}")
                        pending_headers = headers
                    if len(buf) - pos < need:
                        break
                    body = buf[pos:pos + need].decode("utf-8", "replace")
                    pos += need
                    headers, pending_headers = pending_headers, None
                    self._dispatch(headers, body)
                if pos == len(buf):
                    # a fresh buffer: a bytearray trimmed from the front keeps its capacity, and
                    # thousands of idle live legs would each hold their largest burst (~30 KiB)
                    buf = bytearray()
                elif pos:
                    del buf[:pos]
                # nor keep the last chunk and frame (~10-20 KiB a leg) while waiting for the next
                data = block = body = headers = None
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
            self._on_event(self._parse_event(body))
        elif content_type == "command/reply":
            if self._connect_reply_pending:
                self._connect_reply_pending = False
                text = _decode(headers.get("Reply-Text", ""))
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

    @staticmethod
    def _parse_event(body: str) -> EslEvent:
        head, sep, rest = body.partition("\n\n")
        headers = HeaderBlock(head)
        inner = None
        length = headers.get("Content-Length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                raise ProtocolError(f"bad inner Content-Length {length[:40]!r}") from None
            inner = rest[:n]
        return EslEvent(headers, inner)

    def _resolve_reply(self, reply: Reply) -> None:
        if not self._replies:
            log.warning("call %s: unsolicited %s %r", self.uuid, reply.content_type, reply.text[:80])
            return
        self._replies.popleft().set(reply)

    def _on_event(self, ev: EslEvent) -> None:
        raw = ev._raw
        name = raw.get("Event-Name")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = raw.get("Application-UUID")
            self._log("in", f"{name} {raw.get('Application')} {_decode(raw.get('Application-Response', ''))}")
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
        frames = []
        for command, headers in commands:
            if headers:
                frames.append(command + "\n" + "".join(f"{k}: {v}\n" for k, v in headers.items()) + "\n")
            else:
                frames.append(command + "\n\n")
            self._log("out", command if len(command) < 120 else command[:117] + "...")
        results = self._send("".join(frames), len(commands))
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

    def answer(self, timeout: float | None = None) -> None:
        self.execute("answer", timeout=timeout)

    def playback(self, path: str, *, timeout: float | None = None, tolerate_hangup: bool = False) -> str | None:
        """Play a file; returns Application-Response (``FILE PLAYED``, ``PLAYBACK ERROR``, ...)."""
        return self.execute("playback", path, timeout=timeout,
                            tolerate_hangup=tolerate_hangup).get("Application-Response")

    def play_and_hang_up(self, path: str, cause: str, *, break_media: bool = False,
                         timeout: float | None = None) -> str | None:
        """Play a file, then hang up with ``cause``: one write (``api uuid_break`` first when
        ``break_media``, to stop what plays; then ``playback`` and the ``hangup`` application,
        both with event-lock so the hangup waits for the prompt, fs-transcripts 01/03). Waits for
        CHANNEL_HANGUP; returns the hangup cause."""
        commands: list[tuple[str, Mapping[str, str] | None]] = []
        if break_media:
            commands.append((f"api uuid_break {self.uuid} all", None))
        executions = []
        for app, arg in (("playback", path), ("hangup", cause)):
            execution, headers = self._prepare_execution(app, arg, event_lock=True, tolerate_hangup=True)
            executions.append(execution)
            commands.append(("sendmsg", headers))
        try:
            replies = self._commands(commands)
        except ChannelError:
            for execution in executions:
                self._executions.pop(execution.app_uuid, None)
            raise
        refused = [reply.text for reply in replies[-2:] if not reply.ok]
        if refused:
            for execution in executions:
                self._executions.pop(execution.app_uuid, None)
            raise CommandError("execute playback, hangup", refused[0])
        return self.wait_hangup(timeout)

    def playback_until_key(self, path: str, *, timeout: float | None = None) -> str | None:
        """Play a file that a key of the channel's ``playback_terminators`` cuts short; returns
        that key (``playback_terminator_used``, which playback clears first) or None when it
        played to the end. Other keys pressed meanwhile are consumed by FreeSWITCH (08a/08c)."""
        done = self.execute("playback", path, timeout=timeout)
        return done.get("variable_playback_terminator_used") or None

    def key_pressed_at(self, digit: str) -> str | None:
        """FreeSWITCH's time (Event-Date-Timestamp, microseconds) of the last DTMF event of
        ``digit`` on this channel, or None."""
        for pressed, stamp in zip(reversed(self.dtmf), reversed(self.dtmf_stamps)):
            if pressed == digit:
                return stamp
        return None

    def play_and_get_digits(self, prompt: str, *, min_digits: int = 1, max_digits: int = 1, tries: int = 1,
                            digit_timeout_ms: int = 5000, terminators: str = "#",
                            invalid_prompt: str = "silence_stream://250", var_name: str = "pagd_digit",
                            regexp: str = "\\d", inter_digit_timeout_ms: int | None = None,
                            timeout: float | None = None) -> str | None:
        """Play ``prompt`` and collect digits; returns them, or ``None`` on timeout / no match."""
        if " " in prompt or " " in invalid_prompt:
            raise ValueError("play_and_get_digits prompts must not contain spaces")
        arg = (f"{min_digits} {max_digits} {tries} {digit_timeout_ms} {terminators} {prompt} "
               f"{invalid_prompt} {var_name} {regexp}")
        if inter_digit_timeout_ms is not None:
            arg += f" {inter_digit_timeout_ms}"
        done = self.execute("play_and_get_digits", arg, timeout=timeout)
        digits = done.get("variable_" + var_name)
        return digits or None

    def set_var(self, name: str, value: str, *, timeout: float | None = None) -> None:
        self.execute("set", f"{name}={value}", timeout=timeout)

    def export_var(self, name: str, value: str, *, timeout: float | None = None) -> None:
        """Set a variable that is also copied to legs this channel creates (``export``)."""
        self.execute("export", f"{name}={value}", timeout=timeout)

    def record_session(self, path: str, *, timeout: float | None = None) -> None:
        self.execute("record_session", path, timeout=timeout)

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
                    then: Iterable[tuple[str, str | None]] = ()) -> "BackgroundJob":
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

    def originate(self, dial_string: str, *, socket_address: tuple[str, int],
                  variables: Mapping[str, str] | None = None, origination_uuid: str | None = None,
                  timeout: float | None = None, tolerate_hangup: bool = False) -> str:
        """Create a leg that comes to ``socket_address`` as its own outbound connection.

        Returns the new leg's uuid once it answered; raises :class:`OriginateFailed` with the
        cause otherwise. The ``&socket(...)`` argument is quoted (unquoted it would arrive in
        static single-channel mode, fs-transcripts 02x). Variable values must not contain
        ``,`` or ``}``. Note that the new leg's connection may reach the server *before* this
        returns.
        """
        return self.originate_async(dial_string, socket_address=socket_address, variables=variables,
                                    origination_uuid=origination_uuid,
                                    tolerate_hangup=tolerate_hangup).leg_uuid(timeout)

    def originate_async(self, dial_string: str, *, socket_address: tuple[str, int],
                        variables: Mapping[str, str] | None = None, origination_uuid: str | None = None,
                        tolerate_hangup: bool = False,
                        then: Iterable[tuple[str, str | None]] = ()) -> "BackgroundJob":
        """:meth:`originate` that returns as soon as FreeSWITCH took the command (the INVITE is on
        its way); ``job.leg_uuid()`` waits for the outcome. ``then``: applications for this
        channel sent in the same write (e.g. ``pre_answer`` and a ringback), see :meth:`bgapi_async`."""
        variables = dict(variables or {})
        if origination_uuid is not None:
            variables["origination_uuid"] = origination_uuid
        for key, value in variables.items():
            if any(c in str(value) for c in ",}'") or any(c in key for c in ",=}"):
                raise ValueError(f"originate variable {key}={value!r} needs escaping")
        prefix = "{" + ",".join(f"{k}={v}" for k, v in variables.items()) + "}" if variables else ""
        host, port = socket_address
        return self.bgapi_async(f"originate {prefix}{dial_string} '&socket({host}:{port} async full)'",
                                tolerate_hangup=tolerate_hangup, then=then)

    def _api_ok(self, command: str, timeout: float | None) -> str:
        body = self.api(command, timeout=timeout)
        if not body.startswith("+OK"):
            raise CommandError(f"api {command}", body)
        return body

    def sched_hangup(self, seconds: int, cause: str = "ALLOTTED_TIMEOUT", *, uuid: str | None = None,
                     timeout: float | None = None) -> None:
        """Schedule a hangup (``api sched_hangup +N <uuid> CAUSE``; whole-second ticks)."""
        self._api_ok(f"sched_hangup +{int(seconds)} {uuid or self.uuid} {cause}", timeout)

    def sched_broadcast(self, seconds: int, path: str, *, leg: str = "aleg", uuid: str | None = None,
                        timeout: float | None = None) -> None:
        """Schedule a playback on the channel (``api sched_broadcast +N <uuid> playback::<path> <leg>``)."""
        self._api_ok(f"sched_broadcast +{int(seconds)} {uuid or self.uuid} playback::{path} {leg}", timeout)

    def uuid_bridge(self, other_uuid: str, *, timeout: float | None = None) -> None:
        """``api uuid_bridge <self> <other>``. Only the *first* uuid's socket (this one) gets
        CHANNEL_BRIDGE/UNBRIDGE; both get an EXECUTE_COMPLETE of ``socket`` (fs-transcripts 02)."""
        self._api_ok(f"uuid_bridge {self.uuid} {other_uuid}", timeout)

    def uuid_break(self, uuid: str | None = None, *, all: bool = True, timeout: float | None = None) -> None:
        """Stop media on a channel (default: this one); a broken playback completes ``FILE PLAYED``."""
        self._api_ok(f"uuid_break {uuid or self.uuid}{' all' if all else ''}", timeout)

    def uuid_setvar(self, uuid: str, name: str, value: str, *, timeout: float | None = None) -> bool:
        """Set a variable on another channel (``api uuid_setvar``); False when it is gone."""
        if any(c in value for c in " \n") or not name or any(c in name for c in " \n"):
            raise ValueError(f"uuid_setvar {name}={value!r}: names and values must be single words")
        return self.api(f"uuid_setvar {uuid} {name} {value}", timeout=timeout).startswith("+OK")

    def uuid_getvar(self, uuid: str, name: str, *, timeout: float | None = None) -> str | None:
        """A variable of another channel (``api uuid_getvar``): ``None`` when unset
        (``_undef_``); raises :class:`CommandError` when the channel does not exist
        (``-ERR No such channel!``, fs-transcripts 04a/06)."""
        body = self.api(f"uuid_getvar {uuid} {name}", timeout=timeout)
        if body.startswith("-ERR"):
            raise CommandError(f"api uuid_getvar {uuid} {name}", body)
        value = body.rstrip("\n")
        return None if value in ("", "_undef_") else value

    def uuid_broadcast(self, uuid: str, path: str, *, leg: str = "aleg", timeout: float | None = None) -> bool:
        """Play a file to a channel even while it is bridged (``api uuid_broadcast <uuid> <path>
        aleg|bleg|both``; mod_commands answers ``+OK Message sent``); False when it is gone."""
        if leg not in ("aleg", "bleg", "both"):
            raise ValueError(f"uuid_broadcast leg must be aleg, bleg or both, not {leg!r}")
        return self.api(f"uuid_broadcast {uuid} {path} {leg}", timeout=timeout).startswith("+OK")

    def sched_del(self, group: str | None = None, *, timeout: float | None = None) -> int:
        """Delete scheduled tasks (``api sched_del <group>``; ``+OK Deleted: N``). sched_hangup
        and sched_broadcast put their tasks in the group named by the channel uuid, so
        ``sched_del <uuid>`` (the default: this channel) cancels both. Returns N."""
        body = self._api_ok(f"sched_del {group or self.uuid}", timeout)
        try:
            return int(body.rsplit(":", 1)[-1].strip())
        except ValueError:
            return 0

    def uuid_kill(self, uuid: str, cause: str = "NORMAL_CLEARING", *, timeout: float | None = None) -> bool:
        """Hang up another channel; False when it is already gone (``-ERR No such channel!``)."""
        return self.api(f"uuid_kill {uuid} {cause}", timeout=timeout).startswith("+OK")

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
