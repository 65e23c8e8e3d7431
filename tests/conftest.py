"""Shared fixtures: the app runs under gevent, so patch first; databases are real (SQLite file and
a per-run PostgreSQL database); under CI a missing PostgreSQL fails instead of skipping."""
from gevent import monkey

monkey.patch_all()

import io  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import psycogreen.gevent  # noqa: E402
import pytest  # noqa: E402

psycogreen.gevent.patch_psycopg()

import models  # noqa: E402
from fs_app.cli import main as cli_main  # noqa: E402
from fs_app.config import load_settings  # noqa: E402
from domain.clock import PinnedClock, SystemClock, use_clock  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PG_ADMIN_URL = os.environ.get("FSAPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
#: every test starts at this instant (Monday 10:00 in Beijing, inside the default calling windows
#: and not a holiday) and its clock runs at real speed from there: no result depends on the date
#: the suite runs on. A test that needs time to stand still calls ``clock.freeze()``.
TEST_START = datetime(2026, 11, 23, 2, 0)


@pytest.fixture(autouse=True)
def clock():
    """The process clock (domain.clock) pinned to TEST_START for the test."""
    pinned = PinnedClock(TEST_START, running=True)
    previous = use_clock(pinned)
    yield pinned
    use_clock(previous)


@pytest.fixture
def wall_clock(clock):
    """The system clock instead of the pinned one, for a test whose app runs in other processes
    (they read the system clock): the test's own writes then share their time line."""
    previous = use_clock(SystemClock())
    yield
    use_clock(previous)


def _pg_params(url: str) -> dict:
    from urllib.parse import urlparse

    parts = urlparse(url)
    return dict(dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
                host=parts.hostname, port=parts.port or 5432)


@pytest.fixture(scope="session")
def pg_url():
    """URL of a PostgreSQL database made for this test run and dropped after it."""
    import psycopg2

    try:
        admin = psycopg2.connect(connect_timeout=3, **_pg_params(PG_ADMIN_URL))
    except psycopg2.OperationalError as exc:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {exc}".strip()
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    admin.autocommit = True
    name = f"fsapp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    params = _pg_params(PG_ADMIN_URL)
    user = params["user"] or "postgres"
    url = f"postgresql://{user}@{params['host']}:{params['port']}/{name}"
    yield url
    with admin.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.close()


_pg_migrated = set()


def _bind(backend: str, tmp_path: Path, request) -> str:
    if backend == "sqlite":
        models.open_database("", tmp_path)
        models.migrate()
        return ""
    url = request.getfixturevalue("pg_url")
    db = models.open_database(url, tmp_path, pool_size=8)
    if url not in _pg_migrated:
        models.migrate()
        _pg_migrated.add(url)
    tables = ", ".join(f'"{m._meta.table_name}"' for m in models.ALL_MODELS)
    db.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request, tmp_path):
    """The models bound to a fresh, migrated database: each test runs on SQLite and PostgreSQL."""
    url = _bind(request.param, tmp_path, request)
    request.node.database_url = url
    yield request.param
    from fs_app.deferred_records import DEFERRED

    DEFERRED.flush(5)  # a refusal recorded in the background belongs to this test's database
    DEFERRED.discard()
    models.database.close()
    if request.param == "postgres":
        models.db.close_all_pools()


@pytest.fixture
def sqlite_db(tmp_path):
    """Only SQLite, for tests whose subject does not depend on the database."""
    models.open_database("", tmp_path)
    models.migrate()
    yield "sqlite"
    models.database.close()


@pytest.fixture
def env(request, tmp_path, db):
    """Environment variables that point the app at the test's database and data directory."""
    values = {"FSAPP_DATA_DIR": str(tmp_path / "data")}
    url = getattr(request.node, "database_url", "")
    if url:
        values["FSAPP_DATABASE_URL"] = url
    else:
        # the CLI's SQLite file must be the one the test's models are bound to
        values["FSAPP_DATA_DIR"] = str(tmp_path)
    return values


@pytest.fixture
def settings(env):
    return load_settings(env)


class CliResult:
    def __init__(self, code: int, out: str, err: str):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"CliResult(code={self.code}, out={self.out!r}, err={self.err!r})"


@pytest.fixture
def cli(env):
    """Run `fsapp ...` in-process against the test database: cli("tenant", "add", ...)."""

    def run(*argv: str, extra_env: dict | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = cli_main(list(argv), out=out, err=err, env={**env, **(extra_env or {})})
        # the CLI rebinds the proxy; point it back at the test database for assertions
        models.open_database(env.get("FSAPP_DATABASE_URL", ""), env["FSAPP_DATA_DIR"], pool_size=8)
        return CliResult(code, out.getvalue(), err.getvalue())

    return run
