"""The fake's end of one outbound Event Socket connection: it connects to the app, reads the
commands the app writes and answers each as FreeSWITCH does (connect, myevents, event, linger,
getvar, sendmsg, api, bgapi, exit), filtering the events the app subscribed to."""

from __future__ import annotations

import logging
import socket as stdlib_socket
import time
import uuid as uuid_module
from typing import TYPE_CHECKING

import gevent
import gevent.socket
from gevent.event import Event as GeventEvent
from gevent.lock import Semaphore

from .wire import CommandParser, api_response, command_reply, disconnect_notice

if TYPE_CHECKING:
    from .leg import FakeLeg
    from .switch import FakeFreeSwitch

log = logging.getLogger(__name__)


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
            gevent.spawn(self.fs.background_job, rest, leg, job_uuid)
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
