"""Database binding: SQLite in a data directory by default, PostgreSQL by URL.

The models bind to ``database`` (a proxy); ``open_database`` chooses the real database once per
process. Writes that guard limits use ``write_transaction()``: an IMMEDIATE transaction on SQLite
(takes the write lock up front, so two processes cannot both read-then-write) and an ordinary
transaction on PostgreSQL, where the guarded rows are locked with SELECT ... FOR UPDATE.

Both databases are pooled: a call takes a connection for one unit of work and gives it back
(``unit_of_work``), so reconnecting (and re-running SQLite's pragmas) is not paid per call.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

from .errors import InvalidInput

database = DatabaseProxy()

SQLITE_FILENAME = "fsapp.db"
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10000,
    "cache_size": -8000,  # 8 MB per pooled connection
}


_opened: dict[tuple[str, str], object] = {}


def open_database(url: str = "", data_dir: Path | str = "var", pool_size: int = 20, *,
                  checkpoint_in_background: bool = False):
    """Bind the models to SQLite (empty url) or PostgreSQL (postgresql://...).

    Opening the same database again rebinds the existing object, so a process keeps one
    connection pool per database however often it is opened. ``checkpoint_in_background``
    (SQLite, for `fsapp serve`): commits never run a WAL checkpoint themselves (one in a hundred
    would otherwise pay 10-20 ms of post-dial delay); ``start_wal_checkpointer`` does it instead."""
    key = (url or "", str(Path(data_dir).resolve()) if not url else "")
    if key in _opened:
        database.initialize(_opened[key])
        return _opened[key]
    if not url or url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else Path(data_dir) / SQLITE_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        pragmas = dict(SQLITE_PRAGMAS, wal_autocheckpoint=0) if checkpoint_in_background else SQLITE_PRAGMAS
        # the pool's `timeout` is its wait for a free connection; SQLite's own wait is busy_timeout
        db = PooledSqliteDatabase(str(path), pragmas=pragmas, max_connections=pool_size, stale_timeout=300,
                                  timeout=10, check_same_thread=False)
    elif url.startswith(("postgresql://", "postgres://")):
        parts = urlparse(url)
        db = PooledPostgresqlDatabase(
            (parts.path or "/").lstrip("/") or "postgres",
            user=parts.username or None,
            password=parts.password or None,
            host=parts.hostname or None,
            port=parts.port or None,
            max_connections=pool_size,
            stale_timeout=300,
            timeout=10,
        )
    else:
        raise InvalidInput("unsupported database URL %(url)r: use postgresql://... or leave empty for SQLite", url=url)
    _opened[key] = db
    database.initialize(db)
    return db


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
    of the PostgreSQL pool until it is closed: a live call that touched the database would pin one
    for minutes. Entry points that a call uses (admission, metering, the flows' own queries) run
    inside this, so a call holds a connection only while it talks to the database. If the greenlet
    already holds one (a CLI command, a test, an outer unit), it is left open. Usable as a
    decorator too.
    """
    opened = database.is_closed()
    if opened:
        database.connect()
    try:
        yield
    finally:
        if opened and not database.is_closed():
            database.close()


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

