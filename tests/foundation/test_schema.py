"""Schema creation, idempotent upgrades, indexes and the database binding, on both databases."""
import models
from models import migrations
from models.db import SQLITE_FILENAME


def test_init_is_idempotent_and_creates_every_table(db):
    assert models.migrate() == []
    for model in models.ALL_MODELS:
        assert models.database.table_exists(model._meta.table_name), model.__name__
    assert models.current_version() == models.latest_version()


def test_an_old_database_is_upgraded_step_by_step(db, monkeypatch):
    from playhouse.migrate import migrate as run
    from peewee import CharField

    calls = []

    def add_column(migrator):
        calls.append("v2")
        run(migrator.add_column("tenant", "upgrade_probe", CharField(default="x", max_length=8)))

    probe = models.latest_version() + 1
    steps = migrations.MIGRATIONS + [(probe, "probe column", add_column)]
    try:
        assert models.migrate(steps) == [probe]
        assert models.migrate(steps) == []
        assert calls == ["v2"]
        cursor = models.database.execute_sql("SELECT upgrade_probe FROM tenant")
        assert cursor.fetchall() == []
        assert models.current_version() == probe
    finally:
        # the PostgreSQL database is shared by the run's tests: put the schema back
        run(migrations.migrator().drop_column("tenant", "upgrade_probe"))
        migrations.SchemaVersion.delete().where(migrations.SchemaVersion.version == probe).execute()


def test_a_failing_step_leaves_the_previous_version(db):
    def broken(migrator):
        models.database.execute_sql("CREATE TABLE half_done (id INTEGER)")
        raise RuntimeError("boom")

    steps = migrations.MIGRATIONS + [(models.latest_version() + 1, "broken", broken)]
    try:
        models.migrate(steps)
    except RuntimeError:
        pass
    assert models.current_version() == models.latest_version()
    assert not models.database.table_exists("half_done")


def test_admission_lookups_are_indexed(db):
    def indexed_columns(table):
        return {tuple(index.columns) for index in models.database.get_indexes(table)}

    assert ("sip_user", "sip_domain") in indexed_columns("seat")
    assert ("number",) in indexed_columns("do_not_call")
    assert ("tenant_id", "number") in indexed_columns("consent")
    assert ("callee_number", "created_at") in indexed_columns("call_record")
    assert ("tenant_id", "released_at") in indexed_columns("hold")


def test_sqlite_is_wal_with_foreign_keys(sqlite_db, tmp_path):
    assert (tmp_path / SQLITE_FILENAME).exists()
    assert models.database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert models.database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_unsupported_database_url_is_refused(tmp_path):
    import pytest

    with pytest.raises(models.InvalidInput, match="unsupported database URL"):
        models.open_database("mysql://x/y", tmp_path)


def test_sqlite_connections_are_pooled_and_serving_checkpoints_in_the_background(tmp_path):
    import time

    from models.db import open_database, start_wal_checkpointer, unit_of_work

    db = open_database("", tmp_path / "served", pool_size=4, checkpoint_in_background=True)
    models.migrate()
    models.database.close()
    with unit_of_work():
        first = models.database.connection()
        assert models.database.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    with unit_of_work():
        assert models.database.connection() is first  # reused from the pool, not reopened
    assert len(db._in_use) == 0
    with unit_of_work():
        models.Tenant.create(code="t", name="t", display_name="t", hotline="+864001234567")
    main_file = tmp_path / "served" / "fsapp.db"
    before = main_file.stat().st_size  # commits wrote only to the WAL: no checkpoint ran yet
    stop = start_wal_checkpointer(interval_s=0.05)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and main_file.stat().st_size <= before:
            time.sleep(0.05)
        assert main_file.stat().st_size > before  # the background thread copied the pages in
    finally:
        stop()


def test_upgrade_to_daily_use_counters_starts_them_from_todays_attempts(db):
    """A database made before version 2 has attempts but no counters: the upgrade counts today's."""
    from datetime import timedelta

    from models.calls.tables import LeaseDailyUse
    from domain.clock import local_day, local_day_bounds, utcnow

    tenant = models.Tenant.create(code="up", name="Up", display_name="Up", hotline="+864008123456")
    lease = models.NumberLease.create(tenant=tenant, number="+861061234567", province="北京", city="北京",
                                      paid_through=utcnow() + timedelta(days=30))
    now = utcnow()
    midnight = local_day_bounds(local_day(now))[0]
    for i, at in enumerate((now, midnight, midnight - timedelta(seconds=1))):
        models.Attempt.create(call_uuid=f"old-{i}", tenant=tenant, callee_number="+8613912345678",
                              caller_lease=lease, at=at)
    models.database.drop_tables([LeaseDailyUse])
    migrations.SchemaVersion.delete().where(migrations.SchemaVersion.version >= 2).execute()
    assert models.current_version() == 1
    assert models.migrate() == list(range(2, models.latest_version() + 1))
    assert [(row.lease_id, row.day, row.attempts) for row in LeaseDailyUse.select()] == [
        (lease.id, local_day(now), 2)]
