"""Outbound Event Socket server: FreeSWITCH connects here once per channel.

Built on gevent's ``StreamServer`` (one greenlet per connection, accepted as fast as the
kernel hands them over). greenswitch's ``OutboundESLServer`` is deliberately not used: it
polls ``accept()`` with 100 ms sleeps and caps itself at 100 connections.

Per connection: check the peer against the allowlist (refuse by closing), run
``connect``/``myevents``/``event plain BACKGROUND_JOB``/``linger`` through :class:`Channel`,
refuse calls over ``max_live_calls`` by hanging them up with ``SWITCH_CONGESTION``, then call
``handler(channel)``. Afterwards the server releases the socket with ``exit`` (the socket
lingers). If the handler raised and the channel is still up, the call is hung up with
``NORMAL_TEMPORARY_FAILURE`` (fail closed); the exception is logged with the call uuid. Each call
runs on the database's ``calls`` pool (``models.db.pool_role``) with the moment its connection was
accepted marked for the admission deadline (``fs_app.deadlines``).

Drain (SIGTERM): stop accepting, let live calls finish up to ``drain_timeout``, then hang up
whatever is left with ``SYSTEM_SHUTDOWN`` and stop. The server binds its own port, or serves a
listening socket it is given (``listener=``): that is how the worker processes of
``fsapp serve --workers N`` share the one socket their supervisor bound (``fs_app.listeners``).
"""

from __future__ import annotations

import logging
import signal
import socket as stdlib_socket
import time
from typing import Callable, Iterable

import gevent
from gevent.event import Event as GeventEvent
from gevent.server import StreamServer

from models.db import CALLS, pool_role

from .channel import Channel, ChannelError, ChannelGone
from .deadlines import connected
from .listeners import BACKLOG, address_of, listen
from .peers import parse_peers, peer_in

log = logging.getLogger(__name__)

OVER_CAPACITY_CAUSE = "SWITCH_CONGESTION"
HANDLER_FAILURE_CAUSE = "NORMAL_TEMPORARY_FAILURE"
SHUTDOWN_CAUSE = "SYSTEM_SHUTDOWN"


class CallServer:
    """Accept FreeSWITCH's outbound socket connections and run ``handler(channel)`` for each."""

    def __init__(self, handler: Callable[[Channel], None], host: str = "127.0.0.1", port: int = 8084, *,
                 max_live_calls: int = 2000, allowed_peers: Iterable[str] = ("127.0.0.1/32", "::1/128"),
                 drain_timeout: float = 300.0, command_timeout: float = 10.0, backlog: int = BACKLOG,
                 subscribe_events: Iterable[str] = ("BACKGROUND_JOB",), listener=None,
                 on_live_calls: Callable[[int], None] | None = None):
        self.handler = handler
        self.host = host
        self.port = port
        self.max_live_calls = max_live_calls
        self.allowed_networks = parse_peers(allowed_peers)
        self._peer_verdicts: dict[str, bool] = {}
        self._verdicts_for = self.allowed_networks
        self.drain_timeout = drain_timeout
        self.command_timeout = command_timeout
        self.backlog = backlog
        self.subscribe_events = tuple(subscribe_events)
        self.refused_peers = 0
        self.refused_over_capacity = 0
        self.handler_failures = 0
        self.calls_handled = 0
        self._live = 0
        self._channels: dict[int, Channel] = {}
        self._greenlets: set = set()
        self._idle = GeventEvent()
        self._idle.set()
        self._stopped = GeventEvent()
        self._draining = False
        self._server: StreamServer | None = None
        self._listener = listener  # a listening socket to serve instead of binding host:port
        self._on_live_calls = on_live_calls or (lambda live: None)  # e.g. the live-calls gauge
        self._signal_handlers: list = []

    # ------------------------------------------------------------------ lifecycle
    @property
    def live_calls(self) -> int:
        return self._live

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port) -- the real port when constructed with port 0."""
        if self._listener is None:
            return self.host, self.port
        return address_of(self._listener)

    @property
    def draining(self) -> bool:
        return self._draining

    def start(self) -> None:
        """Listen (raises ``fs_app.listeners.ListenError`` when the port is taken) and accept."""
        if self._server is not None:
            return
        if self._listener is None:
            self._listener = listen(self.host, self.port, "the Event Socket", self.backlog)
        self._server = StreamServer(self._listener, self._handle)
        self._server.start()
        log.info("Event Socket server listening on %s:%s (max %d live calls, peers %s)",
                 *self.address, self.max_live_calls, ", ".join(map(str, self.allowed_networks)))

    def serve_forever(self) -> None:
        """Start and block until :meth:`stop` (or a drain after SIGTERM) finished."""
        self.start()
        self._stopped.wait()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT: drain (up to ``drain_timeout``), then stop (serve_forever returns)."""
        def on_signal():
            if self._draining:
                return
            log.info("signal received: draining Event Socket server")
            gevent.spawn(self._drain_then_stop)
        self._signal_handlers = [gevent.signal_handler(signum, on_signal)
                                 for signum in (signal.SIGTERM, signal.SIGINT)]

    def remove_signal_handlers(self) -> None:
        for handler in self._signal_handlers:
            handler.cancel()
        self._signal_handlers = []

    def _drain_then_stop(self) -> None:
        self.drain(self.drain_timeout)
        self.stop()

    def drain(self, timeout: float | None = None) -> bool:
        """Stop accepting and wait for live calls to finish. On timeout hang up the rest.

        Returns True if every call finished by itself within the timeout.
        """
        timeout = self.drain_timeout if timeout is None else timeout
        self._draining = True
        self._close_listener()
        log.info("draining: %d live calls, waiting up to %.1fs", self._live, timeout)
        if self._idle.wait(timeout):
            log.info("drained: all calls finished")
            return True
        left = list(self._channels.values())
        log.warning("drain timeout after %.1fs: hanging up %d live calls with %s", timeout, len(left), SHUTDOWN_CAUSE)
        jobs = [gevent.spawn(self._shutdown_channel, channel) for channel in left]
        gevent.joinall(jobs, timeout=min(self.command_timeout, 5.0))
        if not self._idle.wait(min(self.command_timeout, 5.0)):
            gevent.killall(list(self._greenlets), block=True, timeout=2.0)
        return False

    @staticmethod
    def _shutdown_channel(channel: Channel) -> None:
        try:
            channel.hangup(SHUTDOWN_CAUSE)
        except ChannelError:
            pass

    def _close_listener(self) -> None:
        if self._server is not None and not self._server.closed:
            self._server.close()  # closes the listening socket; running handlers go on

    def stop(self) -> None:
        """Stop at once: close the listener, kill running call greenlets."""
        self._draining = True
        self._close_listener()
        if self._greenlets:
            gevent.killall(list(self._greenlets), block=True, timeout=2.0)
        self._stopped.set()

    # ------------------------------------------------------------------ per connection
    def peer_allowed(self, ip: str) -> bool:
        if self._verdicts_for is not self.allowed_networks:  # replaced: forget old verdicts
            self._peer_verdicts, self._verdicts_for = {}, self.allowed_networks
        allowed = self._peer_verdicts.get(ip)
        if allowed is None:
            allowed = self._peer_allowed(ip)
            if len(self._peer_verdicts) < 1024:  # FreeSWITCH nodes: a handful of addresses
                self._peer_verdicts[ip] = allowed
        return allowed

    def _peer_allowed(self, ip: str) -> bool:
        return peer_in(ip, self.allowed_networks)

    def _handle(self, sock, address) -> None:
        accepted_at = time.monotonic()  # the admission deadline counts from here
        peer_ip = address[0]
        if not self.peer_allowed(peer_ip):
            self.refused_peers += 1
            log.warning("refused Event Socket connection from %s:%s (not in allowed peers)", *address[:2])
            sock.close()
            return
        if self._draining:
            log.warning("refused connection from %s during drain", peer_ip)
            sock.close()
            return
        sock.setsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY, 1)
        greenlet = gevent.getcurrent()
        self._greenlets.add(greenlet)
        self._live += 1
        self._on_live_calls(self._live)
        self._idle.clear()
        channel = Channel(sock, address, command_timeout=self.command_timeout)
        key = id(channel)
        try:
            # the call's database work uses the calls pool, which nothing else may take from
            with pool_role(CALLS), connected(accepted_at):
                self._run_call(channel, key)
        finally:
            self._channels.pop(key, None)
            self._live -= 1
            self._greenlets.discard(greenlet)
            if self._live == 0:
                self._idle.set()
            self._on_live_calls(self._live)

    def _run_call(self, channel: Channel, key: int) -> None:
        started = time.monotonic()
        try:
            channel.connect(events=self.subscribe_events)
        except ChannelError as exc:
            log.warning("Event Socket setup failed for %s: %s", channel.peer, exc)
            channel.close()
            return
        if self._live > self.max_live_calls:
            self.refused_over_capacity += 1
            log.warning("call %s refused: %d live calls exceed the maximum of %d; hanging up with %s",
                        channel.uuid, self._live, self.max_live_calls, OVER_CAPACITY_CAUSE)
            try:
                channel.hangup(OVER_CAPACITY_CAUSE)
            except ChannelError:
                pass
            channel.exit()
            return
        self._channels[key] = channel
        self.calls_handled += 1
        try:
            self.handler(channel)
        except ChannelGone as exc:
            log.info("call %s: channel gone (%s) after %.1fs", channel.uuid, exc.cause or exc.reason,
                     time.monotonic() - started)
        except gevent.GreenletExit:
            raise
        except Exception as exc:
            self.handler_failures += 1
            log.exception("call %s: handler failed: %s", channel.uuid, exc)
            if not channel.is_gone:
                try:
                    channel.hangup(HANDLER_FAILURE_CAUSE)
                except ChannelError:
                    pass
        finally:
            channel.exit()
