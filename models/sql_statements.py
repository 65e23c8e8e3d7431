"""Every statement of the call path written by hand, defined once by name, and their one executor.

Hand-written SQL is for the hot path only (admission's facts and reservation, the charge at
hangup, CDR confirmation, the SIP directory, the health ping): there peewee's query compiler and
PostgreSQL's planner each cost more than the indexed lookups themselves. Everything else uses
peewee's query builder, except schema migrations and one-off data upgrades (``migrations.py``,
``seat_accounts_migration.py``), which run once, off the call path. ``EXPLAIN`` the policy's
statements with ``bench/admission.py --explain``.

A statement is written once, with ``%s`` placeholders and, where it can lock, a ``{lock}`` slot
for its locking clause. Its forms are derived here: SQLite's ``?`` placeholders and no locking
clause (the IMMEDIATE write transaction already serialises every writer), PostgreSQL's text with
or without the clause. ``run``/``one``/``all`` execute a statement by name.

On PostgreSQL every statement is PREPAREd the first time a connection runs it and EXECUTEd
afterwards: planning an indexed lookup costs 0.1-0.25 ms against a few tens of microseconds to
run it, and psycopg2 sends every statement as new text. Connections remember their statements (a
weak map: a new or reconnected connection prepares again). Not for PgBouncer in transaction
mode, where a session's statements do not follow it. On SQLite the driver's own statement cache
already does this.
"""
from __future__ import annotations

import hashlib
import weakref
from dataclasses import dataclass

from models.db import database, is_postgres


@dataclass(frozen=True)
class _Prepared:
    """PostgreSQL's PREPARE and EXECUTE texts of one form of a statement."""
    prepare: str
    execute: str


@dataclass(frozen=True)
class Statement:
    name: str
    text: str  # as written: %s placeholders, {lock} slot
    params: tuple[str, ...]  # what each placeholder takes, in order
    sqlite: str | None  # None: PostgreSQL only (advisory locks, session settings)
    postgres: _Prepared
    postgres_locked: _Prepared | None  # None: the statement takes no lock


STATEMENTS: dict[str, Statement] = {}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _prepared_forms(name: str, text: str) -> _Prepared:
    digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    statement = f"fsapp_{name[:40]}_{digest}"  # PostgreSQL cuts identifiers at 63 bytes
    parts = text.split("%s")
    numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], start=1))
    count = len(parts) - 1
    arguments = f"({', '.join(['%s'] * count)})" if count else ""
    return _Prepared(f"PREPARE {statement} AS {numbered}", f"EXECUTE {statement}{arguments}")


def define(name: str, text: str, params: tuple[str, ...] = (), *, lock: str | None = None,
           postgres_only: bool = False) -> Statement:
    """Register statement ``name``: ``text`` with one ``%s`` per entry of ``params`` and, when
    ``lock`` (e.g. ``FOR UPDATE``) is given, a ``{lock}`` slot where that clause goes."""
    text = _one_line(text)
    existing = STATEMENTS.get(name)
    if existing is not None:
        if existing.text == text:
            return existing  # a statement derived from a model, defined by two threads at once
        raise ValueError(f"statement {name!r} is defined twice")
    if text.count("%s") != len(params):
        raise ValueError(f"statement {name!r} has {text.count('%s')} placeholders for {len(params)} parameters")
    if ("{lock}" in text) != (lock is not None):
        raise ValueError(f"statement {name!r}: a {{lock}} slot and a lock clause go together")
    plain = _one_line(text.replace("{lock}", ""))
    STATEMENTS[name] = statement = Statement(
        name=name, text=text, params=params, sqlite=None if postgres_only else plain.replace("%s", "?"),
        postgres=_prepared_forms(name, plain),
        postgres_locked=_prepared_forms(f"{name}_lock", text.replace("{lock}", lock)) if lock else None)
    return statement


# --- executing ------------------------------------------------------------------------------

_prepared: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # connection -> {PREPARE texts}


def _execute_prepared(form: _Prepared, params):
    connection = database.connection()
    names = _prepared.get(connection)
    if names is None:
        names = _prepared[connection] = set()
    if form.prepare not in names:
        database.execute_sql(form.prepare)  # survives a rollback of the transaction it ran in
        names.add(form.prepare)
    try:
        return database.execute_sql(form.execute, params)
    except Exception as exc:
        if "prepared statement" in str(exc) and "does not exist" in str(exc):
            names.clear()  # the session lost its statements (DISCARD ALL): prepare again next time
        raise


def run(name: str, params=(), *, lock: bool = False):
    """Execute statement ``name`` with ``params`` (in the order of its ``params``); the cursor.
    ``lock=True``: its locking form (on SQLite the plain one, the transaction being the lock)."""
    statement = STATEMENTS[name]
    if lock and statement.postgres_locked is None:
        raise ValueError(f"statement {name!r} takes no lock")
    if not is_postgres():
        if statement.sqlite is None:
            raise ValueError(f"statement {name!r} exists on PostgreSQL only")
        return database.execute_sql(statement.sqlite, params)
    return _execute_prepared(statement.postgres_locked if lock else statement.postgres, params)


def one(name: str, params=(), *, lock: bool = False) -> tuple | None:
    """The first row of statement ``name``, or None."""
    return run(name, params, lock=lock).fetchone()


def all(name: str, params=(), *, lock: bool = False) -> list[tuple]:  # noqa: A001 - sql.all(...) reads as meant
    """Every row of statement ``name``."""
    return run(name, params, lock=lock).fetchall()


# --- statements derived from a model: one row in or one row changed -------------------------

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


_inserts: dict[str, tuple[Statement, list]] = {}


def insert_row(model, row: dict) -> int:
    """INSERT one row with every column (model defaults filled in); returns its id.

    The same row ``model.insert(**row)`` would write, without peewee's per-call query compilation
    and, on PostgreSQL, as a prepared statement (``insert_<table>``)."""
    table = model._meta.table_name
    cached = _inserts.get(table)
    if cached is None:
        fields = [f for f in model._meta.sorted_fields if f.name != "id"]
        columns = ", ".join(f'"{f.column_name}"' for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        statement = define(f"insert_{table}", f'INSERT INTO "{table}" ({columns}) VALUES ({marks}) RETURNING "id"',
                           tuple(f.column_name for f in fields))
        cached = _inserts[table] = (statement, fields)
    statement, fields = cached
    return one(statement.name, column_values(fields, row))[0]


_updates: dict[tuple[str, tuple[str, ...]], str] = {}


def update_row(table: str, row_id: int, changes: dict) -> None:
    """UPDATE the columns of ``changes`` (column name -> database value) of one row by id, as
    statement ``update_<table>_<digest of the columns>`` (one per set of columns)."""
    key = (table, tuple(changes))
    name = _updates.get(key)
    if name is None:
        columns = tuple(changes)
        name = f"update_{table}_{hashlib.blake2b(','.join(columns).encode(), digest_size=4).hexdigest()}"
        define(name, f'UPDATE "{table}" SET {", ".join(f"{c} = %s" for c in columns)} WHERE id = %s',
               (*columns, "id"))
        _updates[key] = name
    run(name, (*changes.values(), row_id))


# --- the policy's facts (fs_app/policy/loader.py) ---------------------------------------------
# One statement per shape of the question: a variant is a statement of its own, so that each is
# planned once for its parameters.

_SEAT = """SELECT s.id, s.tenant_id, s.active, s.valid_from, s.valid_to, s.pinned_number_id,
 t.code, t.status, t.industry, t.industry_approved, t.seats_purchased, t.rate_out_fen, t.connect_fee_fen,
 t.billing_increment_s, t.balance_fen, t.calling_windows, c.id, c.code, c.status, c.record
 FROM seat s JOIN tenant t ON t.id = s.tenant_id LEFT JOIN campaign c ON {campaign}
 WHERE s.sip_user = %s AND s.sip_domain = %s {{lock}}"""
# locked: the tenant row is the lock every reservation and ledger posting of the tenant takes first
define("facts_seat_by_code", _SEAT.format(campaign="c.tenant_id = s.tenant_id AND c.code = %s"),
       ("campaign_code", "sip_user", "sip_domain"), lock="FOR UPDATE OF t")
define("facts_seat_default", _SEAT.format(campaign="c.id = s.default_campaign_id"),
       ("sip_user", "sip_domain"), lock="FOR UPDATE OF t")
define("facts_bans", """SELECT "function", until FROM tenant_ban
 WHERE tenant_id = %s AND lifted_at IS NULL AND (until IS NULL OR until > %s)""", ("tenant_id", "now"))
define("facts_holds", """SELECT COALESCE(SUM(CASE WHEN seat_id = %s THEN 1 ELSE 0 END), 0),
 COALESCE(SUM(CASE WHEN direction = 'outbound' THEN 1 ELSE 0 END), 0), COALESCE(SUM(amount_fen), 0)
 FROM hold WHERE tenant_id = %s AND released_at IS NULL AND expires_at > %s""", ("seat_id", "tenant_id", "now"))
_LEASES = """SELECT l.id, l."number", l.province, l.city, l.paid_through, l.max_calls,
 (SELECT COUNT(*) FROM hold h WHERE h.number_id = l.id AND h.released_at IS NULL AND h.expires_at > %s),
 (SELECT u.attempts FROM lease_daily_use u WHERE u.lease_id = l.id AND u.day = %s)
 FROM number_lease l WHERE l.tenant_id = %s AND l.released_at IS NULL"""
_LEASE_PARAMS = ("now", "local_day", "tenant_id")
define("facts_leases_all", _LEASES, _LEASE_PARAMS)
define("facts_leases_local", _LEASES + " AND l.province = %s", (*_LEASE_PARAMS, "province"))
define("facts_leases_local_pinned", _LEASES + " AND (l.province = %s OR l.id = %s)",
       (*_LEASE_PARAMS, "province", "pinned_lease_id"))
_DNC = 'SELECT scope, created_at, expires_at FROM do_not_call WHERE "number" = %s AND (tenant_id IS NULL{tenant})'
define("facts_dnc_platform", _DNC.format(tenant=""), ("number",))
define("facts_dnc", _DNC.format(tenant=" OR tenant_id = %s"), ("number", "tenant_id"))
define("facts_consents", """SELECT id, obtained_at, expires_at FROM consent
 WHERE tenant_id = %s AND "number" = %s AND revoked_at IS NULL""", ("tenant_id", "number"))
# the explicit lower bound (30 days) keeps the (callee_number, at) range short
_ATTEMPTS = "SELECT tenant_id, at FROM attempt WHERE callee_number = %s AND at > %s AND (at > %s{tenant})"
define("facts_attempts_platform", _ATTEMPTS.format(tenant=""), ("number", "month_ago", "day_ago"))
define("facts_attempts", _ATTEMPTS.format(tenant=" OR tenant_id = %s"), ("number", "month_ago", "day_ago", "tenant_id"))

# --- admission (fs_app/admission.py) --------------------------------------------------------

# generic plans: the prepared lookups are planned once per connection, not per call
define("transaction_timeouts", """SELECT set_config('lock_timeout', %s, true),
 set_config('statement_timeout', %s, true), set_config('plan_cache_mode', 'force_generic_plan', true)""",
       ("lock_timeout_ms", "statement_timeout_ms"), postgres_only=True)

# --- reservations (models/calls/reservations.py, models/calls/attempts.py) ------------------------------

define("callee_lock", "SELECT pg_advisory_xact_lock(%s)", ("callee_lock_key",), postgres_only=True)
define("hold_release", 'UPDATE "hold" SET "released_at" = %s WHERE "call_uuid" = %s AND "released_at" IS NULL',
       ("released_at", "call_uuid"))
define("hold_release_lapsed", 'UPDATE "hold" SET "released_at" = "expires_at" WHERE "call_uuid" = %s'
       ' AND "released_at" IS NULL AND "expires_at" <= %s', ("call_uuid", "now"))
define("hold_heartbeat", 'UPDATE "hold" SET "expires_at" = %s WHERE "call_uuid" = %s AND "released_at" IS NULL'
       ' AND "expires_at" > %s', ("expires_at", "call_uuid", "now"))
define("attempt_uncount", 'DELETE FROM "attempt" WHERE "call_uuid" = %s RETURNING "caller_lease_id", "at"',
       ("call_uuid",))
define("lease_use_count", 'INSERT INTO "lease_daily_use" ("lease_id", "day", "attempts") VALUES (%s, %s, 1) '
       'ON CONFLICT ("lease_id", "day") DO UPDATE SET "attempts" = "lease_daily_use"."attempts" + 1',
       ("lease_id", "local_day"))
define("lease_use_uncount", 'UPDATE "lease_daily_use" SET "attempts" = "attempts" - 1 WHERE "lease_id" = %s'
       ' AND "day" = %s AND "attempts" > 0', ("lease_id", "local_day"))

# --- the charge at hangup (models/calls/billing.py, models/ledger/posting.py) -------------------------------

# the lock ``ledger.locked_tenant`` takes: FOR UPDATE on PostgreSQL, the IMMEDIATE transaction on SQLite
define("tenant_for_charge", """SELECT id, balance_fen, promo_balance_fen, rate_out_fen, rate_in_fen, connect_fee_fen,
 billing_increment_s FROM tenant WHERE id = %s {lock}""", ("tenant_id",), lock="FOR UPDATE")
define("tenant_balances_set", "UPDATE tenant SET balance_fen = %s, promo_balance_fen = %s WHERE id = %s",
       ("balance_fen", "promo_balance_fen", "tenant_id"))
define("ledger_entry_by_key", "SELECT id FROM ledger_entry WHERE idempotency_key = %s", ("idempotency_key",))
_RECORD = """SELECT id, direction, agent_uuid, callee_uuid, tenant_id, dialled, callee_number, charged, charge_fen,
 billsec, cdr_billsec, cdr_mismatch, result, hangup_cause, answered_at, ended_at, max_duration_s FROM call_record"""
define("record_by_callee", _RECORD + " WHERE callee_uuid = %s {lock}", ("callee_uuid",), lock="FOR UPDATE")
# the admission record exists before the callee leg has a uuid of its own
define("record_admitted_by_agent", _RECORD + " WHERE agent_uuid = %s AND callee_uuid IS NULL"
       " AND decision = 'allowed' ORDER BY id DESC LIMIT 1 {lock}", ("agent_uuid",), lock="FOR UPDATE")
define("hold_charged", "UPDATE hold SET amount_fen = 0 WHERE call_uuid = %s AND released_at IS NULL"
       " AND amount_fen <> 0", ("call_uuid",))

# --- CDR reconciliation (fs_app/cdr.py) -------------------------------------------------------

define("record_cdr_confirm", "UPDATE call_record SET cdr_billsec = %s, cdr_mismatch = %s WHERE id = %s",
       ("cdr_billsec", "cdr_mismatch", "record_id"))

# --- the SIP directory (fs_app/directory/lookup.py) -------------------------------------------

define("directory_account", """SELECT s.active, s.valid_from, s.valid_to, s.sip_a1_hash, s.role, t.code, t.status,
 c.code, l."number" FROM seat s JOIN tenant t ON t.id = s.tenant_id
 LEFT JOIN campaign c ON c.id = s.default_campaign_id
 LEFT JOIN number_lease l ON l.id = s.pinned_number_id
 WHERE s.sip_user = %s AND s.sip_domain = %s""", ("sip_user", "sip_domain"))

# --- health (fs_app/metrics.py) -------------------------------------------------------------

define("ping", "SELECT 1")
