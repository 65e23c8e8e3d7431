"""Database binding: SQLite in a data directory by default, PostgreSQL by URL.

The models bind to ``database`` (a proxy); ``open_database`` chooses the real database once per
process. Writes that guard limits use ``write_transaction()``: an IMMEDIATE transaction on SQLite
(takes the write lock up front, so two processes cannot both read-then-write) and an ordinary
transaction on PostgreSQL, where the guarded rows are locked with SELECT ... FOR UPDATE.

Two connection pools per process over the same database, so that nothing the web admin, the CLI
or a periodic job does can take the connections live calls need (issue 14):

* ``calls``: admission, metering, the flows' queries, the call's own settlement. The Event Socket
  server runs every call in ``pool_role(CALLS)``; the ticker's heartbeats inherit it.
* ``web``: everything else (the admin, /readyz, the SIP directory, the CLI, the jobs). It is the
  default, so code that does not say otherwise can never reach the call pool.

The proxy routes on a greenlet-local ``contextvars`` role, so model code is unchanged. A call takes
a connection for one unit of work and gives it back (``unit_of_work``).

Every wait on the database has a deadline (``db_deadline``; a calls unit of work gets
``call_timeout_s`` when its caller set none): the wait for a free pooled connection, SQLite's
write lock (a busy timeout of a few ms, then retries that sleep in gevent, so the event loop never
blocks for longer than one try), and on PostgreSQL the connect and every statement (a client-side
timeout, since a frozen server never answers; the server's lock/statement timeouts too). Past it
``DatabaseDeadline`` (an OperationalError) is raised and a connection whose state is unknown is
thrown away, not returned to the pool.
"""
from __future__ import annotations

import contextlib
import contextvars
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlparse

import gevent
from peewee import DatabaseProxy, OperationalError, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import (
    MaxConnectionsExceeded,
    PooledDatabase,
    PooledPostgresqlDatabase,
    PooledSqliteDatabase,
)

from domain.errors import InvalidInput

CALLS, WEB = "calls", "web"
ROLES = (CALLS, WEB)

SQLITE_FILENAME = "fsapp.db"
SQLITE_PRAGMAS = {
    # first, so that the pragmas after it never wait longer either: the longest one try may
    # block the gevent loop; longer waits are retries that yield
    "busy_timeout": 3,
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "cache_size": -8000,  # 8 MB per pooled connection
}
_RETRY_FIRST_S, _RETRY_MAX_S = 0.002, 0.05  # backoff between SQLite tries (gevent.sleep)
CLIENT_GRACE_S = 0.1  # PostgreSQL: the client-side timeout trails the deadline by this much

_role: contextvars.ContextVar[str] = contextvars.ContextVar("fsapp_pool_role", default=WEB)
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("fsapp_db_deadline", default=None)


class _Interrupted(OperationalError):
    """Named so that peewee's exception wrapper (which maps a driver error by its class's or its
    first base's name) lets a deadline raised inside a driver call through unchanged."""


class DatabaseDeadline(_Interrupted):
    """A database wait outlived its deadline (pool, lock, statement or connect)."""


@contextlib.contextmanager
def pool_role(role: str):
    """Run the block (and the tasks it starts with a copy of its context) on the ``role`` pool."""
    if role not in ROLES:
        raise ValueError(f"unknown pool role {role!r}")
    token = _role.set(role)
    try:
        yield
    finally:
        _role.reset(token)


def current_role() -> str:
    return _role.get()


@contextlib.contextmanager
def db_deadline(at: float | None):
    """Every database wait in the block ends by ``at`` (time.monotonic()); an earlier deadline
    already set is kept. None: no deadline of its own."""
    outer = _deadline.get()
    if at is None or (outer is not None and outer <= at):
        yield
        return
    token = _deadline.set(at)
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining_s() -> float | None:
    """Seconds left before the current deadline (None: no deadline)."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


class PoolRouter(DatabaseProxy):
    """The models' database: the pool of the current role (``obj``)."""

    __slots__ = ("_pools",)

    def __init__(self):
        object.__setattr__(self, "_pools", {})
        super().__init__()

    def __setattr__(self, attr, value):
        if attr not in ("obj", "_callbacks", "_Model", "_pools"):
            raise AttributeError("Cannot set attribute on proxy.")
        object.__setattr__(self, attr, value)

    @property
    def obj(self):
        pools = self._pools
        return pools.get(_role.get()) or pools.get(WEB)

    @obj.setter
    def obj(self, value):  # one database for every role (a test binding a plain database)
        object.__setattr__(self, "_pools", {} if value is None else {role: value for role in ROLES})

    def bind_pools(self, pools: dict) -> None:
        object.__setattr__(self, "_pools", dict(pools))
        for callback in self._callbacks:
            callback(pools[WEB])

    def pools(self) -> dict:
        """{role: database}; both roles may share one database (tests)."""
        return dict(self._pools)


database = PoolRouter()


class _DeadlinePool:
    """Pool mixin: the wait for a free connection yields and ends at the deadline; counts waits
    and timeouts for the metrics (``stats``)."""

    role = WEB
    default_wait_s = 10.0  # without a deadline of the caller's

    def _init_stats(self, role: str, default_wait_s: float) -> None:
        self.role, self.default_wait_s = role, default_wait_s
        self.waits = self.timeouts = self.lock_retries = 0

    def _wait_until(self) -> float:
        at = _deadline.get()
        own = time.monotonic() + self.default_wait_s
        return own if at is None else min(at, own)

    def connect(self, reuse_if_open=False):
        until = self._wait_until()
        waited = False
        while True:
            try:
                return self._connect_once(reuse_if_open, until)
            except MaxConnectionsExceeded:
                left = until - time.monotonic()
                if not waited:
                    self.waits += 1
                    waited = True
                if left <= 0:
                    self.timeouts += 1
                    raise DatabaseDeadline(f"no free connection in the {self.role} pool "
                                           f"({self._max_connections}) before the deadline") from None
                with self._pool_available:
                    self._pool_available.wait(timeout=min(left, 0.1))

    def _connect_once(self, reuse_if_open, until):
        return super(PooledDatabase, self).connect(reuse_if_open)  # Database.connect: no pool wait

    def stats(self) -> dict:
        return {"in_use": len(self._in_use), "size": self._max_connections, "waits": self.waits,
                "timeouts": self.timeouts, "lock_retries": self.lock_retries}


def _busy(exc: Exception) -> bool:
    """SQLite's write lock is taken (a retry may succeed); a stale WAL snapshot never will."""
    original = exc.args[0] if exc.args and isinstance(exc.args[0], sqlite3.Error) else exc
    if getattr(original, "sqlite_errorname", "") == "SQLITE_BUSY_SNAPSHOT":
        return False
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text or "database table is locked" in text


class CallPathSqliteDatabase(_DeadlinePool, PooledSqliteDatabase):
    """Pooled SQLite whose busy waits yield to the gevent loop: each try blocks at most the
    busy_timeout pragma (a few ms), then the greenlet sleeps and tries again until the deadline."""

    def _retrying(self, run):
        until = self._wait_until()
        delay = _RETRY_FIRST_S
        while True:
            try:
                return run()
            except OperationalError as exc:
                if not _busy(exc):
                    raise
                if time.monotonic() + delay >= until:
                    self.timeouts += 1
                    raise DatabaseDeadline(f"SQLite stayed locked until the deadline ({self.role} pool): {exc}") from exc
                self.lock_retries += 1
                gevent.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX_S)

    def execute_sql(self, sql, params=None):
        return self._retrying(lambda: super(CallPathSqliteDatabase, self).execute_sql(sql, params))

    def begin(self, lock_type=None):
        return self._retrying(lambda: super(CallPathSqliteDatabase, self).begin(lock_type))

    def commit(self):
        return self._retrying(lambda: super(CallPathSqliteDatabase, self).commit())


class _BoundedConnect(PostgresqlDatabase):
    """A new PostgreSQL connection within the deadline (sits below the pool in the MRO, so the
    pool's own checkout logic stays peewee's). libpq's connect_timeout does not apply to the
    asynchronous connects psycopg makes under gevent, hence the client-side timeout."""

    def _connect(self):
        with self._client_timeout("connect"):
            try:
                return super()._connect()
            except DatabaseDeadline:
                self.timeouts += 1
                raise


class CallPathPostgresqlDatabase(_DeadlinePool, PooledPostgresqlDatabase, _BoundedConnect):
    """Pooled PostgreSQL with a client-side deadline on the connect, the checkout's liveness
    check and every statement (transaction control too): a frozen server (or a network that
    stopped forwarding) never answers, so its own timeouts cannot end the wait. A connection
    interrupted mid-statement is closed, never reused."""

    def _client_timeout(self, what: str):
        # a little after the deadline, so that a live server's own lock/statement timeout (set
        # to the deadline) answers first with its clearer reason
        left = self._wait_until() - time.monotonic() + CLIENT_GRACE_S
        return gevent.Timeout(max(left, 0.001), DatabaseDeadline(f"PostgreSQL {what}: no answer before the deadline "
                                                                  f"({self.role} pool)"))

    def _is_closed(self, conn):
        """peewee pings a pooled connection at checkout (a round trip): bounded too."""
        try:
            with self._client_timeout("ping"):
                closed = super()._is_closed(conn)
        except DatabaseDeadline:
            self.timeouts += 1
            closed = True
        if closed:
            self._close_raw(conn)
        return closed

    def _bounded(self, what: str, run):
        try:
            with self._client_timeout(what):
                return run()
        except DatabaseDeadline:
            self.timeouts += 1
            self._discard_connection()
            raise

    def execute_sql(self, sql, params=None):
        conn = self._state.conn
        if conn is not None and conn.closed and not self.in_transaction():
            self.close()  # discarded after a deadline: the pool drops it, a fresh one is taken
        if self.is_closed():
            self.connect()
        return self._bounded("statement", lambda: super(CallPathPostgresqlDatabase, self).execute_sql(sql, params))

    def begin(self, *args, **kwargs):
        return self._bounded("BEGIN", lambda: super(CallPathPostgresqlDatabase, self).begin(*args, **kwargs))

    def commit(self, *args, **kwargs):
        return self._bounded("COMMIT", lambda: super(CallPathPostgresqlDatabase, self).commit(*args, **kwargs))

    def rollback(self, *args, **kwargs):
        conn = self._state.conn
        if conn is not None and conn.closed:  # discarded mid-transaction: the server rolled it back
            return None
        return self._bounded("ROLLBACK", lambda: super(CallPathPostgresqlDatabase, self).rollback(*args, **kwargs))

    def _discard_connection(self) -> None:
        """The connection's state is unknown (a statement may still run): close its socket. peewee's
        state is left alone (a transaction may be unwinding); giving the closed connection back
        makes the pool drop it."""
        conn = self._state.conn
        if conn is not None:
            self._close_raw(conn)


_opened: dict[tuple[str, str], dict] = {}


def open_database(url: str = "", data_dir: Path | str = "var", pool_size: int = 20, *,
                  web_pool_size: int | None = None, checkpoint_in_background: bool = False,
                  call_timeout_s: float = 2.0, web_timeout_s: float = 10.0,
                  web_statement_timeout_s: float = 300.0):
    """Bind the models to SQLite (empty url) or PostgreSQL (postgresql://...): a ``calls`` pool of
    ``pool_size`` and a ``web`` pool of ``web_pool_size`` (default: the same) connections.

    Opening the same database again rebinds the existing pools, so a process keeps one pair per
    database however often it is opened. Returns the web pool (the caller's own role unless it
    runs calls). ``checkpoint_in_background`` (SQLite, for `fsapp serve`): commits never run a WAL
    checkpoint themselves (one in a hundred would otherwise pay 10-20 ms of post-dial delay);
    ``start_wal_checkpointer`` does it instead. ``call_timeout_s``/``web_timeout_s``: the longest
    database wait of each pool when the caller set no deadline; ``web_statement_timeout_s``:
    PostgreSQL's statement timeout on the web pool (0: none)."""
    key = (url or "", str(Path(data_dir).resolve()) if not url else "")
    if key in _opened:
        database.bind_pools(_opened[key])
        return _opened[key][WEB]
    sizes = {CALLS: pool_size, WEB: web_pool_size or pool_size}
    waits = {CALLS: call_timeout_s, WEB: web_timeout_s}
    if not url or url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else Path(data_dir) / SQLITE_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        pragmas = dict(SQLITE_PRAGMAS, wal_autocheckpoint=0) if checkpoint_in_background else SQLITE_PRAGMAS
        pools = {role: CallPathSqliteDatabase(str(path), pragmas=pragmas, max_connections=sizes[role],
                                              stale_timeout=300, timeout=waits[role], check_same_thread=False)
                 for role in ROLES}
    elif url.startswith(("postgresql://", "postgres://")):
        parts = urlparse(url)
        # the server's own limits: short on the call pool (the deadline ends the wait anyway),
        # longer on the web pool; 0 disables
        server_ms = {CALLS: (call_timeout_s, call_timeout_s),
                     WEB: (web_timeout_s, web_statement_timeout_s)}
        pools = {}
        for role in ROLES:
            lock_ms, statement_ms = (int(s * 1000) for s in server_ms[role])
            pools[role] = CallPathPostgresqlDatabase(
                (parts.path or "/").lstrip("/") or "postgres",
                user=parts.username or None, password=parts.password or None,
                host=parts.hostname or None, port=parts.port or None,
                connect_timeout=max(2, int(waits[role] + 0.999)),  # blocking connects only; green ones: the deadline
                options=f"-c lock_timeout={lock_ms} -c statement_timeout={statement_ms}",
                max_connections=sizes[role], stale_timeout=300, timeout=waits[role])
    else:
        raise InvalidInput("unsupported database URL %(url)r: use postgresql://... or leave empty for SQLite", url=url)
    for role, db in pools.items():
        db._init_stats(role, waits[role])
    _opened[key] = pools
    database.bind_pools(pools)
    return pools[WEB]


def pool_stats() -> dict[str, dict]:
    """{role: {in_use, size, waits, timeouts, lock_retries}} of the bound pools."""
    return {role: db.stats() for role, db in database.pools().items() if isinstance(db, _DeadlinePool)}


def close_all_pools() -> None:
    """Close every connection of every pool (before a fork; at the end of a test)."""
    seen = set()
    for db in database.pools().values():
        if id(db) not in seen:
            seen.add(id(db))
            db.close_all() if isinstance(db, PooledDatabase) else db.close()


def is_postgres() -> bool:
    return isinstance(database.obj, PostgresqlDatabase)


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


def write_transaction():
    """A transaction that serialises writers guarding the same limits (see module docstring)."""
    if is_sqlite():
        return database.obj.atomic("IMMEDIATE")
    return database.obj.atomic()


def for_update(query):
    """Lock the selected rows on PostgreSQL; SQLite's IMMEDIATE transaction already serialises."""
    return query.for_update() if is_postgres() else query


@contextlib.contextmanager
def unit_of_work():
    """Hold a database connection for one piece of work, then give it back.

    Under gevent every greenlet has its own connection state, and a connection stays checked out
    of the pool until it is closed: a live call that touched the database would pin one for
    minutes. Entry points that a call uses (admission, metering, the flows' own queries) run
    inside this, so a call holds a connection only while it talks to the database. If the greenlet
    already holds one (a CLI command, a test, an outer unit), it is left open. On the calls pool
    the unit has a deadline (the pool's ``call_timeout_s``) unless its caller set an earlier one.
    Usable as a decorator too.
    """
    db = database.obj
    own_deadline = None
    if isinstance(db, _DeadlinePool) and db.role == CALLS and _deadline.get() is None:
        own_deadline = time.monotonic() + db.default_wait_s
    with db_deadline(own_deadline):
        opened = db.is_closed()
        if opened:
            db.connect()
        try:
            yield
        finally:
            if opened and not db.is_closed():
                db.close()
def start_wal_checkpointer(interval_s: float = 1.0):
    """Checkpoint the SQLite WAL every ``interval_s`` from a real OS thread with its own
    connection: sqlite3 releases the GIL while it copies pages, so calls never wait for it.
    PASSIVE never blocks readers or writers. Returns a function that stops it."""
    import sqlite3
    import threading

    try:
        from gevent import monkey
        Thread = monkey.get_original("threading", "Thread")
        sleep_event = monkey.get_original("threading", "Event")
    except ImportError:  # pragma: no cover - the app always runs under gevent
        Thread, sleep_event = threading.Thread, threading.Event
    if not is_sqlite():
        return lambda: None
    path = database.obj.database
    stop = sleep_event()

    def run():
        connection = sqlite3.connect(path, timeout=10, check_same_thread=False)
        try:
            while not stop.wait(interval_s):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    pass  # busy: the next round catches up
        finally:
            connection.close()

    Thread(target=run, name="wal-checkpointer", daemon=True).start()
    return stop.set

