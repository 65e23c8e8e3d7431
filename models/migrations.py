"""Schema versions. ``migrate()`` creates a new database or upgrades an old one, idempotently.

Each step is (version, description, function). A step runs inside a transaction together with
the bump of ``schema_version``, so a failed upgrade leaves the previous version intact. Later
steps use peewee's own ``playhouse.migrate`` operations (add_column, add_index, ...).
"""
from __future__ import annotations

from typing import Callable

from peewee import CharField, DateTimeField, IntegerField
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator

from domain.clock import utcnow
from models.base import BaseModel
from models.db import database, is_sqlite
from models.schema import ALL_MODELS


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    description = CharField(max_length=200)
    applied_at = DateTimeField(default=utcnow)


def _initial_schema(migrator) -> None:
    database.create_tables(ALL_MODELS, safe=True)


Migration = tuple[int, str, Callable]

def _lease_daily_use(migrator) -> None:
    """Per-number daily attempt counters (A10 ranking), started from today's attempts."""
    from models.calls.attempts import rebuild_lease_use
    from models.calls.tables import LeaseDailyUse

    database.create_tables([LeaseDailyUse], safe=True)
    rebuild_lease_use(utcnow())


def _seat_sip_accounts(migrator) -> None:
    """Seats carry their SIP accounts: tenant.sip_domain and seat.sip_a1_hash (issue 16)."""
    from models.seat_accounts_migration import upgrade

    upgrade(migrator)


def _admin_sessions(migrator) -> None:
    """Server-side admin sessions: logout and password resets revoke them (models.accounts.sessions)."""
    from models.accounts.tables import AdminSession

    database.create_tables([AdminSession], safe=True)


def _login_enabled_at(migrator) -> None:
    """admin_user.enabled_at: the idle rule (D4) counts from a login's re-enabling too."""
    from playhouse.migrate import migrate as run

    if "enabled_at" not in {column.name for column in database.get_columns("admin_user")}:
        run(migrator.add_column("admin_user", "enabled_at", DateTimeField(null=True)))


def _report_indexes(migrator) -> None:
    """Reports and list filters over millions of calls (issue 17): statistics of settled days and hours;
    partial indexes that only blocked calls (reasons), CDR mismatches and rent debits pay for on
    insert; the seat filter of the call list by the address as presented (also for unknown seats).
    Plain SQL: both databases take partial indexes, which playhouse.migrate cannot express."""
    from models.calls.rollups import MODELS

    database.create_tables(MODELS, safe=True)
    for statement in REPORT_INDEXES:
        database.execute_sql(statement)


REPORT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS call_record_blocked_reasons ON call_record (reasons, created_at) "
    "WHERE decision = 'blocked'",
    "CREATE INDEX IF NOT EXISTS call_record_cdr_mismatch ON call_record (created_at) WHERE cdr_mismatch",
    "CREATE INDEX IF NOT EXISTS call_record_seat_address ON call_record (seat_address, created_at)",
    "CREATE INDEX IF NOT EXISTS ledger_entry_rents ON ledger_entry (created_at, tenant_id) "
    "WHERE kind IN ('seat_rent', 'number_rent')",
)


def _covering_report_indexes(migrator) -> None:
    """Reports over 30 days by seat (issue 17): indexes that hold every column a report sums, in
    the order it filters (day, hour) and groups, so both databases answer from the index alone,
    reading the period's rows in sequence instead of one table row per index entry. An open day's
    settled hours are now one block (``call_stats.settle_hours``): the rows stored hour by hour
    are dropped, and the next report stores the block again from the call records."""
    from playhouse.migrate import migrate as run

    for table in ("call_day_stats", "call_day_reason"):
        database.execute_sql(f"DELETE FROM {table} WHERE hour IS NOT NULL")
    database.execute_sql("DELETE FROM call_hour_rollup")

    existing = {index.name for table in ("call_day_stats", "call_day_reason") for index in database.get_indexes(table)}
    for table, columns, name in COVERING_REPORT_INDEXES:
        if name not in existing:
            run(migrator.add_index(table, columns, name=name))


COVERING_REPORT_INDEXES = (
    ("call_day_stats", ("day", "hour", "tenant_id", "campaign_id", "seat_id", "calls", "blocked", "answered",
                        "billed_minutes", "charge_fen", "cdr_mismatches"), "call_day_stats_covering"),
    ("call_day_reason", ("day", "hour", "tenant_id", "campaign_id", "seat_id", "reason", "calls"),
     "call_day_reason_covering"),
)


MIGRATIONS: list[Migration] = [
    (1, "initial schema", _initial_schema),
    (2, "daily use counters of leased numbers", _lease_daily_use),
    (3, "tenant SIP domains and seat SIP credentials (a1-hash)", _seat_sip_accounts),
    (4, "server-side admin sessions", _admin_sessions),
    (5, "admin logins remember when they were enabled again (D4)", _login_enabled_at),
    (6, "call statistics of settled days and hours; partial and seat-address indexes for reports and lists",
     _report_indexes),
    (7, "report statistics: covering indexes for sums over a period", _covering_report_indexes),
]


def migrator():
    return SqliteMigrator(database.obj) if is_sqlite() else PostgresqlMigrator(database.obj)


def current_version() -> int:
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def latest_version(migrations: list[Migration] | None = None) -> int:
    return max(v for v, _, _ in (migrations or MIGRATIONS))


def require_current() -> None:
    """Refuse to work on a database that `fsapp init` has not brought to the latest schema."""
    from domain.errors import InvalidInput

    version = current_version()
    if version < latest_version():
        raise InvalidInput("database schema is at version %(version)s, expected %(latest)s: run `fsapp init`",
                           version=version, latest=latest_version())


def migrate(migrations: list[Migration] | None = None) -> list[int]:
    """Apply every step newer than the database; returns the versions applied."""
    steps = sorted(migrations or MIGRATIONS)
    database.create_tables([SchemaVersion], safe=True)
    applied = []
    for version, description, step in steps:
        with database.atomic():
            if current_version() >= version:
                continue
            step(migrator())
            SchemaVersion.create(version=version, description=description)
        applied.append(version)
    return applied
