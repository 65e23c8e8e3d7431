"""Prometheus metrics and the operational HTTP endpoints (/metrics, /healthz, /readyz).

The rest of the app reports through a few functions and never touches prometheus-client itself:

    metrics.observe_admission("blocked", ["DNC", "NO_CONSENT"], 0.0031)
    metrics.esl_error("timeout")
    metrics.charge(120)                # one call charged 120 fen
    metrics.db_error("admission")
    metrics.cdr_mismatch()
    metrics.directory_answer("found", 0.0004) / metrics.directory_failure("auth")
    metrics.call_started() / metrics.call_ended() / metrics.set_live_calls(n)

/healthz never touches the database (it answers while the database is locked or down); /readyz
checks it within a deadline. The database pools (in use, size, waits, timeouts per pool) and the
deferred record writes are read at scrape time (``PoolsCollector``).

Holds (count and held fen) are not reported by anyone: they are read from the database when
Prometheus scrapes, because the holds of every process and node live there (ARCHITECTURE
principle 2) and a per-process gauge would only know its own.

The workers of ``fsapp serve --workers N`` share one HTTP port, so a scrape lands on any one of
them. Their supervisor (``fs_app.supervisor``) gives them ``PROMETHEUS_MULTIPROC_DIR`` (emptied
before they start) and every worker writes its samples to files there; whichever worker answers
the scrape aggregates all of them (prometheus-client's multiprocess mode): counters summed over
every worker since the start, ``fsapp_live_calls`` over the workers alive (``livesum``; the
supervisor marks an exited one dead). Without the variable the process reports only itself,
which is right for a single process. The live-call gauge is fed by the Event Socket server
(``CallServer(on_live_calls=set_live_calls)``).

``metrics_app(readiness_checks)`` is a WSGI application that routes on the full path
(SCRIPT_NAME + PATH_INFO), so it works standalone or mounted at /metrics, /healthz and /readyz
under werkzeug's DispatcherMiddleware (see ``mount``).
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from typing import Callable, Iterable, Mapping

from prometheus_client import (
    CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# Admission decides in well under a millisecond when the facts are cached and a few ms with the
# database round trips; 100 ms is already an incident (callers hear dead air).
ADMISSION_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1)

HOLDS_CACHE_SECONDS = 5.0
READINESS_TIMEOUT_SECONDS = 2.0

# Label values come from code, but a bug must not explode the number of series.
_REASON_CODE = re.compile(r"^[A-Z][A-Z0-9_]{0,47}$")
_KIND = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
RESULTS = ("allowed", "blocked")

# Per-process samples live here; in multiprocess mode the values are written to files and this
# registry is only used to create the metric objects.
registry = CollectorRegistry(auto_describe=True)
if not MULTIPROCESS:
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)

ADMISSIONS = Counter(
    "fsapp_admissions", "Admission outcomes: one sample per failing reason of a blocked call "
    "(reason=\"none\" for an allowed call); count decisions with fsapp_admission_decisions_total",
    ["result", "reason"], registry=registry)
ADMISSION_DECISIONS = Counter(
    "fsapp_admission_decisions", "Admission decisions, exactly one per call attempt", ["result"],
    registry=registry)
ADMISSION_SECONDS = Histogram(
    "fsapp_admission_seconds", "Time to load facts, decide and reserve", buckets=ADMISSION_BUCKETS,
    registry=registry)
LIVE_CALLS = Gauge(
    "fsapp_live_calls", "Calls this process is handling now (summed over live processes)",
    multiprocess_mode="livesum", registry=registry)
CHARGES_FEN = Counter("fsapp_charges_fen", "Money charged for calls, in fen", registry=registry)
CHARGED_CALLS = Counter("fsapp_charged_calls", "Calls charged (each exactly once)", registry=registry)
DB_ERRORS = Counter("fsapp_db_errors", "Database errors by operation", ["operation"], registry=registry)
ESL_ERRORS = Counter("fsapp_esl_errors", "Event Socket errors by kind", ["kind"], registry=registry)
DIRECTORY_ANSWERS = Counter(
    "fsapp_directory_answers", "SIP directory answers to FreeSWITCH by outcome (found, not_found)",
    ["outcome"], registry=registry)
DIRECTORY_FAILURES = Counter(
    "fsapp_directory_failures", "SIP directory requests refused or failed, by kind "
    "(peer, auth, bad_request, database)", ["kind"], registry=registry)
DIRECTORY_SECONDS = Histogram(
    "fsapp_directory_seconds", "Time to answer a SIP directory request", buckets=ADMISSION_BUCKETS,
    registry=registry)
CDR_MISMATCHES = Counter(
    "fsapp_cdr_mismatches", "Calls whose FreeSWITCH CDR disagreed with the app's record", registry=registry)


def _reason_label(code: str) -> str:
    return code if isinstance(code, str) and _REASON_CODE.match(code) else "OTHER"


def _kind_label(kind: str) -> str:
    kind = (kind or "").strip().lower().replace("-", "_").replace(" ", "_")
    return kind if _KIND.match(kind) else "other"


# --------------------------------------------------------------------------------------------
# The API the rest of the app calls. None of these raise: a metrics bug must not break a call.


def observe_admission(result: str, reasons: Iterable[str], seconds: float) -> None:
    """Record one admission decision: ``result`` is "allowed" or "blocked"."""
    result = result if result in RESULTS else "other"
    ADMISSION_DECISIONS.labels(result).inc()
    codes = sorted({_reason_label(code) for code in (reasons or ())})
    for code in codes or ["none"]:
        ADMISSIONS.labels(result, code).inc()
    if seconds is not None and seconds >= 0:
        ADMISSION_SECONDS.observe(seconds)


def charge(fen: int) -> None:
    """One call charged ``fen`` (call it once per charge actually posted, not per attempt)."""
    if isinstance(fen, int) and fen >= 0:
        CHARGES_FEN.inc(fen)
        CHARGED_CALLS.inc()


def db_error(operation: str = "other") -> None:
    DB_ERRORS.labels(_kind_label(operation)).inc()


def esl_error(kind: str) -> None:
    """An Event Socket error: e.g. "timeout", "disconnect", "command_failed", "protocol"."""
    ESL_ERRORS.labels(_kind_label(kind)).inc()


def directory_answer(outcome: str, seconds: float) -> None:
    """The directory answered FreeSWITCH: "found" (an account) or "not_found"."""
    DIRECTORY_ANSWERS.labels(_kind_label(outcome)).inc()
    if seconds is not None and seconds >= 0:
        DIRECTORY_SECONDS.observe(seconds)


def directory_failure(kind: str) -> None:
    """A directory request refused (peer, auth, bad_request) or failed (database)."""
    DIRECTORY_FAILURES.labels(_kind_label(kind)).inc()


def cdr_mismatch(count: int = 1) -> None:
    if isinstance(count, int) and count > 0:
        CDR_MISMATCHES.inc(count)


def set_live_calls(n: int) -> None:
    LIVE_CALLS.set(max(int(n), 0))


def call_started() -> None:
    LIVE_CALLS.inc()


def call_ended() -> None:
    LIVE_CALLS.dec()


def mark_process_dead(pid: int) -> None:
    """A supervisor calls this for a worker that exited, so its live gauge stops counting."""
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# --------------------------------------------------------------------------------------------
# Holds, read from the database at scrape time.


class HoldsCollector:
    """Active holds and the fen they hold, from the Hold table, cached for a few seconds so a
    busy scraper (or several) costs one small indexed query every ``ttl`` seconds."""

    def __init__(self, ttl: float = HOLDS_CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cached_at: float | None = None
        self._values: tuple[int, int, int] | None = None

    def _query(self) -> tuple[int, int, int]:
        from peewee import fn

        from domain.clock import utcnow
        from models import Hold, database

        now = utcnow()
        opened = database.is_closed()
        if opened:
            database.connect()
        try:
            # the holds that count now (Hold.live_at): live calls and the money they hold (A13), all tenants
            count, held = (Hold.select(fn.COUNT(Hold.id), fn.COALESCE(fn.SUM(Hold.amount_fen), 0))
                           .where(Hold.live_at(now)).tuples().get())
            lapsed = Hold.select().where(Hold.released_at.is_null() & (Hold.expires_at <= now)).count()
        finally:
            if opened:
                database.close()
        return int(count), int(held), int(lapsed)

    def values(self) -> tuple[int, int, int] | None:
        with self._lock:
            now = self.clock()
            if self._cached_at is not None and now - self._cached_at < self.ttl:
                return self._values
            try:
                self._values = self._query()
            except Exception:  # noqa: BLE001 - database down or not bound: report no holds, count it
                db_error("metrics")
                self._values = None
            self._cached_at = now
            return self._values

    def collect(self):
        values = self.values()
        if values is None:
            return
        count, held, lapsed = values
        yield GaugeMetricFamily("fsapp_holds_active", "Live-call holds not released and not expired", value=count)
        yield GaugeMetricFamily("fsapp_holds_fen", "Balance held by live calls, in fen", value=held)
        yield GaugeMetricFamily("fsapp_holds_lapsed", "Holds never released whose lease expired "
                                "(a process died mid-call)", value=lapsed)

    def describe(self):
        return []  # computed at collect time; do not query the database while registering


holds_collector = HoldsCollector()


class PoolsCollector:
    """This process's two connection pools (models.db: ``calls`` for live calls, ``web`` for the
    rest) and the deferred call-record writes, read at scrape time. Per process: in multiprocess
    mode the worker answering the scrape reports its own pools."""

    def collect(self):
        from fs_app.deferred_records import DEFERRED
        from models.db import pool_stats

        families = {
            "in_use": GaugeMetricFamily("fsapp_db_pool_in_use", "Connections checked out of the pool now",
                                        labels=["pool"]),
            "size": GaugeMetricFamily("fsapp_db_pool_size", "Most connections the pool may open", labels=["pool"]),
            "waits": CounterMetricFamily("fsapp_db_pool_waits", "Checkouts that found the pool empty and waited",
                                         labels=["pool"]),
            "timeouts": CounterMetricFamily(
                "fsapp_db_pool_timeouts", "Database waits ended by their deadline (pool, lock, statement, connect)",
                labels=["pool"]),
            "lock_retries": CounterMetricFamily(
                "fsapp_db_lock_retries", "SQLite write-lock tries that found it taken and yielded before retrying",
                labels=["pool"]),
        }
        for role, stats in sorted(pool_stats().items()):
            for name, family in families.items():
                family.add_metric([role], stats[name])
        yield from families.values()
        yield GaugeMetricFamily("fsapp_deferred_writes_pending", "Call records waiting for the database "
                                "(refusals recorded when it allows)", value=DEFERRED.pending)

    def describe(self):
        return []


class _Forward:
    """A collector that yields what another registry (or the current holds collector) has."""

    def __init__(self, source=None):
        self.source = source

    def collect(self):
        return (self.source or holds_collector).collect()

    def describe(self):
        return []


def scrape_registry() -> CollectorRegistry:
    """What /metrics renders: this process (or, in multiprocess mode, all processes of the
    host aggregated from PROMETHEUS_MULTIPROC_DIR) plus the holds read from the database."""
    scrape = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(scrape)
    else:
        scrape.register(_Forward(registry))
    scrape.register(_Forward())
    scrape.register(PoolsCollector())
    return scrape


def render(accept: str = "") -> tuple[bytes, str]:
    encoder, content_type = choose_encoder(accept)
    return encoder(scrape_registry()), content_type


# --------------------------------------------------------------------------------------------
# Health and readiness.


def database_reachable() -> bool:
    """``SELECT 1`` through the models' database; raises when it cannot be reached."""
    from models import database, sql_statements

    if database.obj is None:
        raise RuntimeError("no database bound")
    from models.db import db_deadline

    # the web pool's connection, within the readiness deadline (a locked or frozen database fails
    # the check instead of holding the scrape)
    with db_deadline(time.monotonic() + READINESS_TIMEOUT_SECONDS):
        opened = database.is_closed()
        if opened:
            database.connect()
        try:
            sql_statements.one("ping")
        finally:
            if opened:
                database.close()
    return True


def run_checks(checks: Mapping[str, Callable[[], object]],
               timeout: float = READINESS_TIMEOUT_SECONDS) -> tuple[bool, dict[str, str]]:
    """Run each check (a callable returning truthy when ready, falsy or raising when not),
    each bounded by ``timeout`` seconds. Returns (all ready, {name: "ok" | why not})."""
    import gevent

    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            with gevent.Timeout(timeout, TimeoutError(f"no answer within {timeout:g} s")):
                ok = check()
            results[name] = "ok" if ok else "not ready"
        except BaseException as exc:  # noqa: BLE001 - gevent.Timeout is a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            results[name] = f"{type(exc).__name__}: {message}"[:300].rstrip(": ")
    return all(value == "ok" for value in results.values()), results


PATHS = ("/metrics", "/healthz", "/readyz")


def metrics_app(readiness_checks: Mapping[str, Callable[[], object]] | None = None, *,
                check_database: bool = True, timeout: float = READINESS_TIMEOUT_SECONDS):
    """WSGI app for /metrics, /healthz (process alive) and /readyz (database reachable plus the
    given checks, e.g. ``{"event_socket": lambda: server.listening}``; 503 names what failed)."""
    checks: dict[str, Callable[[], object]] = {}
    if check_database:
        checks["database"] = database_reachable
    checks.update(readiness_checks or {})

    def app(environ, start_response):
        path = (environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")).rstrip("/") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if path not in PATHS:
            return _respond(start_response, "404 Not Found", b"not found\n", "text/plain; charset=utf-8")
        if method not in ("GET", "HEAD"):
            return _respond(start_response, "405 Method Not Allowed", b"GET only\n",
                            "text/plain; charset=utf-8", [("Allow", "GET, HEAD")], method)
        if path == "/healthz":
            return _respond(start_response, "200 OK", b"ok\n", "text/plain; charset=utf-8", method=method)
        if path == "/readyz":
            ready, results = run_checks(checks, timeout)
            body = {"status": "ready" if ready else "unavailable", "checks": results}
            if not ready:
                body["failed"] = sorted(name for name, value in results.items() if value != "ok")
            return _respond(start_response, "200 OK" if ready else "503 Service Unavailable",
                            (json.dumps(body, sort_keys=True) + "\n").encode(), "application/json",
                            method=method)
        output, content_type = render(environ.get("HTTP_ACCEPT", ""))
        return _respond(start_response, "200 OK", output, content_type, method=method)

    return app


def _respond(start_response, status: str, body: bytes, content_type: str,
             extra_headers: list[tuple[str, str]] | None = None, method: str = "GET"):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Cache-Control", "no-store")] + list(extra_headers or [])
    start_response(status, headers)
    return [b""] if method == "HEAD" else [body]


def mount(admin_app, readiness_checks: Mapping[str, Callable[[], object]] | None = None, **options):
    """The admin WSGI app with /metrics, /healthz and /readyz served by ``metrics_app``."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    ops = metrics_app(readiness_checks, **options)
    return DispatcherMiddleware(admin_app, {path: ops for path in PATHS})
