"""Writes a refused call owes the database, done when the database allows (issue 14).

A call refused because the database was locked, frozen, down or slow cannot wait for the record
of its own refusal: the agent hears B6 at once, and the write is queued here. One background
greenlet (on the calls pool, one connection at most) retries the queue in order with a growing
pause until each write went through; nothing here ever blocks a call. Each write is idempotent
(it settles the call's state rather than appending), so a write that reached the database before
its error was seen does no harm when retried.
"""
from __future__ import annotations

import collections
import logging
from typing import Callable

import gevent
from gevent.event import Event

from models.db import CALLS, pool_role

log = logging.getLogger("fsapp.deferred")

RETRY_FIRST_S, RETRY_MAX_S = 0.1, 5.0
MAX_PENDING = 10_000  # far more refusals than an outage of minutes produces; beyond it the log keeps them


class DeferredWriter:
    def __init__(self, retry_first_s: float = RETRY_FIRST_S, retry_max_s: float = RETRY_MAX_S,
                 max_pending: int = MAX_PENDING):
        self.retry_first_s, self.retry_max_s, self.max_pending = retry_first_s, retry_max_s, max_pending
        self._queue: collections.deque[tuple[str, Callable[[], object]]] = collections.deque()
        self._empty = Event()
        self._empty.set()
        self._runner = None
        self.written = self.retries = self.dropped = 0

    @property
    def pending(self) -> int:
        return len(self._queue)

    def add(self, name: str, write: Callable[[], object]) -> None:
        """Queue ``write`` (named for the log); it runs in the background until it succeeds."""
        if len(self._queue) >= self.max_pending:
            dropped, _ = self._queue.popleft()
            self.dropped += 1
            log.error("deferred writes full (%d): dropped %s", self.max_pending, dropped)
        self._queue.append((name, write))
        self._empty.clear()
        if self._runner is None or self._runner.dead:
            self._runner = gevent.spawn(self._run)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every queued write went through (tests, shutdown); False on timeout."""
        return self._empty.wait(timeout)

    def discard(self) -> None:
        """Drop every queued write and stop the runner (between tests; the log has them)."""
        self._queue.clear()
        if self._runner is not None:
            self._runner.kill()
            self._runner = None
        self._empty.set()

    def _run(self) -> None:
        delay = self.retry_first_s
        with pool_role(CALLS):
            while self._queue:
                entry = self._queue[0]
                name, write = entry
                try:
                    write()
                except Exception as exc:  # noqa: BLE001 - the database is still unavailable: later
                    self.retries += 1
                    log.warning("deferred write %s failed (%s); retrying in %.1f s", name, exc, delay)
                    gevent.sleep(delay)
                    delay = min(delay * 2, self.retry_max_s)
                    continue
                if self._queue and self._queue[0] is entry:
                    self._queue.popleft()
                self.written += 1
                delay = self.retry_first_s
                log.info("deferred write %s done", name)
        self._empty.set()


#: the process's writer of deferred call records
DEFERRED = DeferredWriter()
