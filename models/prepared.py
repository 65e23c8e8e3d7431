"""Statements prepared once per connection, for the hot path of admission.

On PostgreSQL, planning a statement costs more than running it when it is an indexed lookup
(0.1-0.25 ms against a few tens of microseconds), and psycopg2 sends every statement as new text.
``execute`` PREPAREs a statement the first time a connection runs it and EXECUTEs it afterwards.
Connections remember their statements (a weak map: a new or reconnected connection prepares
again). Not for PgBouncer in transaction mode, where a session's statements do not follow it.
On SQLite the driver's own statement cache already does this; the text is only adapted to its
parameter style.

Statements are written with ``%s`` placeholders and named by the caller.
"""
from __future__ import annotations

import hashlib
import re
import weakref

from .db import database, is_postgres

_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # connection -> {statement names}
_texts: dict[tuple[str, str], tuple[str, str]] = {}


def _forms(name: str, sql: str) -> tuple[str, str]:
    """(PREPARE text, EXECUTE text) for PostgreSQL."""
    key = (name, sql)
    forms = _texts.get(key)
    if forms is None:
        digest = hashlib.blake2b(sql.encode(), digest_size=4).hexdigest()
        statement = f"fsapp_{name}_{digest}"
        counter = iter(range(1, 1000))
        numbered = re.sub(r"%s", lambda _: f"${next(counter)}", sql)
        count = sql.count("%s")
        arguments = f"({', '.join(['%s'] * count)})" if count else ""
        forms = _texts[key] = (f"PREPARE {statement} AS {numbered}", f"EXECUTE {statement}{arguments}")
    return forms


def execute(name: str, sql: str, params=()):
    """Run ``sql`` (``%s`` placeholders) and return the cursor."""
    if not is_postgres():
        return database.execute_sql(sql.replace("%s", "?"), params)
    prepare, run = _forms(name, sql)
    connection = database.connection()
    names = _prepared.get(connection)
    if names is None:
        names = _prepared[connection] = set()
    if prepare not in names:
        database.execute_sql(prepare)  # survives a rollback of the transaction it ran in
        names.add(prepare)
    try:
        return database.execute_sql(run, params)
    except Exception as exc:
        if "prepared statement" in str(exc) and "does not exist" in str(exc):
            names.clear()  # the session lost its statements (DISCARD ALL): prepare again next time
        raise


def column_values(fields, row: dict) -> list:
    """Database values of ``row`` for ``fields``, with the model's defaults where the row has no
    value: peewee applies defaults in Python, so raw SQL must spell them out."""
    values = []
    for field in fields:
        if field.name in row:
            value = row[field.name]
        elif field.default is not None:
            value = field.default() if callable(field.default) else field.default
        else:
            value = None
        values.append(field.db_value(value))
    return values


_insert_sql: dict[str, tuple[str, list]] = {}


def insert_row(model, row: dict) -> int:
    """INSERT one row with every column (model defaults filled in); returns its id.

    The same row ``model.insert(**row)`` would write, without peewee's per-call query compilation
    and, on PostgreSQL, as a prepared statement."""
    table = model._meta.table_name
    cached = _insert_sql.get(table)
    if cached is None:
        fields = [f for f in model._meta.sorted_fields if f.name != "id"]
        columns = ", ".join(f'"{f.column_name}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        cached = _insert_sql[table] = (f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING "id"', fields)
    sql, fields = cached
    return execute(f"insert_{table}", sql, column_values(fields, row)).fetchone()[0]

