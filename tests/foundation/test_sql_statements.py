"""models.sql_statements: each hand-written statement defined once, its forms derived per database,
and executed by name (prepared once per connection on PostgreSQL)."""
import re

import pytest

import models
from models import sql_statements as sql
from models.tenancy import tenants
from models.sql_statements import STATEMENTS, define


@pytest.fixture
def scratch_names():
    """Statements a test defines are removed after it."""
    before = set(STATEMENTS)
    yield
    for name in set(STATEMENTS) - before:
        del STATEMENTS[name]


def test_each_form_has_the_placeholders_of_its_database():
    assert len(STATEMENTS) >= 25
    for statement in STATEMENTS.values():
        count = len(statement.params)
        if statement.sqlite is not None:
            assert "%s" not in statement.sqlite and "{lock}" not in statement.sqlite, statement.name
            assert statement.sqlite.count("?") == count, statement.name
        for form in filter(None, (statement.postgres, statement.postgres_locked)):
            assert "{lock}" not in form.prepare and "%s" not in form.prepare, statement.name
            assert re.findall(r"\$(\d+)", form.prepare) == [str(i) for i in range(1, count + 1)], statement.name
            assert form.execute.count("%s") == count, statement.name
            assert len(form.execute.split("(")[0].split()[1]) <= 63, statement.name  # PostgreSQL's identifier limit


def test_the_lock_clause_is_only_in_the_locking_postgresql_form():
    seat = STATEMENTS["facts_seat_by_code"]
    assert seat.postgres_locked.prepare.endswith("FOR UPDATE OF t")
    assert "FOR UPDATE" not in seat.postgres.prepare and "FOR UPDATE" not in seat.sqlite
    assert STATEMENTS["record_admitted_by_agent"].postgres_locked.prepare.endswith("LIMIT 1 FOR UPDATE")
    assert STATEMENTS["facts_bans"].postgres_locked is None
    assert STATEMENTS["callee_lock"].sqlite is None  # PostgreSQL only


def test_a_statement_whose_parameters_do_not_match_is_refused(scratch_names):
    with pytest.raises(ValueError, match="2 placeholders for 1 parameters"):
        define("scratch_mismatch", "SELECT 1 WHERE %s = %s", ("only_one",))
    with pytest.raises(ValueError, match="go together"):
        define("scratch_slot", "SELECT id FROM tenant {lock}")
    with pytest.raises(ValueError, match="go together"):
        define("scratch_clause", "SELECT id FROM tenant", lock="FOR UPDATE")
    define("scratch_twice", "SELECT 1")
    assert define("scratch_twice", "SELECT  1") is STATEMENTS["scratch_twice"]  # the same text again
    with pytest.raises(ValueError, match="defined twice"):
        define("scratch_twice", "SELECT 2")


def test_every_statement_compiles_on_the_bound_database(db):
    """Each form is valid SQL against the schema, including the ones a test run may never execute."""
    for statement in list(STATEMENTS.values()):
        if db == "sqlite":
            if statement.sqlite is not None:
                models.database.execute_sql("EXPLAIN QUERY PLAN " + statement.sqlite, [None] * len(statement.params))
            continue
        with models.database.atomic():
            for form in filter(None, (statement.postgres, statement.postgres_locked)):
                name = form.execute.split("(")[0].split()[1]
                models.database.execute_sql(form.prepare.replace(name, name + "_compiles", 1))
                models.database.execute_sql(f"DEALLOCATE {name}_compiles")


def test_run_one_all_and_the_row_helpers(db):
    tenant = tenants.add_tenant("acme", name="Acme", display_name="Acme", hotline="4008123456", seats=1, rate=12)
    assert sql.one("tenant_for_charge", (tenant.id,), lock=True)[:3] == (tenant.id, 0, 0)
    assert sql.run("tenant_balances_set", (500, 20, tenant.id)).rowcount == 1
    assert sql.all("tenant_for_charge", (tenant.id,))[0][1:3] == (500, 20)
    sql.update_row("tenant", tenant.id, {"balance_fen": 700, "promo_balance_fen": 0})
    assert sql.one("tenant_for_charge", (tenant.id,))[1:3] == (700, 0)
    assert sql.one("ledger_entry_by_key", ("no-such-key",)) is None
    with pytest.raises(ValueError, match="takes no lock"):
        sql.one("ledger_entry_by_key", ("no-such-key",), lock=True)
    if db == "sqlite":
        with pytest.raises(ValueError, match="PostgreSQL only"):
            sql.run("callee_lock", (1,))


# PostgreSQL only: SQLite's driver caches statements itself
@pytest.mark.parametrize("db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_postgresql_prepares_a_statement_once_per_connection(db):
    sent = []
    real = models.database.obj.execute_sql

    def capture(text, params=None, *args, **kwargs):
        sent.append(text.split()[0])
        return real(text, params, *args, **kwargs)

    models.database.obj.execute_sql = capture
    try:
        for _ in range(3):
            sql.one("ledger_entry_by_key", ("k",))
        models.database.close()
        models.database.obj.close_all()  # a new connection has no prepared statements
        sql.one("ledger_entry_by_key", ("k",))
    finally:
        models.database.obj.execute_sql = real
    assert sent == ["PREPARE", "EXECUTE", "EXECUTE", "EXECUTE", "PREPARE", "EXECUTE"]
