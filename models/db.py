"""Database binding: SQLite in a data directory by default, PostgreSQL by URL.

The models bind to ``database`` (a proxy); ``open_database`` chooses the real database once per
process. Writes that guard limits use ``write_transaction()``: an IMMEDIATE transaction on SQLite
(takes the write lock up front, so two processes cannot both read-then-write) and an ordinary
transaction on PostgreSQL, where the guarded rows are locked with SELECT ... FOR UPDATE.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from urllib.parse import urlparse

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.pool import PooledPostgresqlDatabase

from .errors import InvalidInput

database = DatabaseProxy()

SQLITE_FILENAME = "fsapp.db"
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 10000,
    "cache_size": -16000,
}


_opened: dict[tuple[str, str], object] = {}


def open_database(url: str = "", data_dir: Path | str = "var", pool_size: int = 20):
    """Bind the models to SQLite (empty url) or PostgreSQL (postgresql://...).

    Opening the same database again rebinds the existing object, so a process keeps one
    connection pool per database however often it is opened."""
    key = (url or "", str(Path(data_dir).resolve()) if not url else "")
    if key in _opened:
        database.initialize(_opened[key])
        return _opened[key]
    if not url or url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else Path(data_dir) / SQLITE_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        db = SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, timeout=10)
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
        raise InvalidInput(f"unsupported database URL {url!r}: use postgresql://... or leave empty for SQLite")
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
