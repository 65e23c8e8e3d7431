"""bin/setup-postgres, which makes `CI=true bin/test` pass on a fresh Debian machine.

The machine's PostgreSQL is shared: these tests never stop, reconfigure or restart it. They run
the script against it (it must be left alone: same postmaster start, same pg_hba.conf, no apt,
no pg_ctlcluster) and, through an override, let it create a throwaway database and role there.
The fresh-machine path (install, create the cluster, trust loopback, start) runs with stand-ins
for apt-get, dpkg, pg_createcluster and pg_ctlcluster; with FSAPP_TEST_REAL_CLUSTER=1 it also
runs for real, on a throwaway cluster on a free port, dropped afterwards."""
from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bin" / "setup-postgres"
MARKER = "# fsapp bin/setup-postgres: a test server; connections over loopback need no password"

# Stand-ins that must not run against a server that already answers: each records its call.
SYSTEM_CHANGING = ("apt-get", "pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "runuser", "sudo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shims(directory: Path, scripts: dict[str, str]) -> Path:
    """Executables named like system commands, first on PATH, appending their argv to calls.log."""
    directory.mkdir(exist_ok=True)
    for name, body in scripts.items():
        path = directory / name
        path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> "{directory}/calls.log"\n{body}\n')
        path.chmod(0o755)
    return directory


def calls(directory: Path) -> list[str]:
    log = directory / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def run(env_overrides: dict[str, str], shim_dir: Path) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "FSAPP_TEST_PG_URL"}
    env.update({"PATH": f"{shim_dir}:{os.environ['PATH']}"}, **env_overrides)
    return subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=300)


def sql(query: str, *params) -> list[tuple]:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres",
                                  connect_timeout=5)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(query, params)
            return cursor.fetchall() if cursor.description else []
    finally:
        connection.close()


@pytest.fixture
def shared_server():
    """The machine's server on 127.0.0.1:5432, as the tests use it; what must not change."""
    if os.environ.get("FSAPP_TEST_PG_URL"):
        pytest.skip("FSAPP_TEST_PG_URL points the tests at another server")
    try:
        started = sql("SELECT pg_postmaster_start_time()")[0][0]
        hba = Path(sql("SHOW hba_file")[0][0])
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc}")
    digest = hashlib.sha256(hba.read_bytes()).hexdigest() if os.access(hba, os.R_OK) else None
    yield
    assert sql("SELECT pg_postmaster_start_time()")[0][0] == started  # not restarted
    if digest:
        assert hashlib.sha256(hba.read_bytes()).hexdigest() == digest  # not reconfigured


@pytest.fixture
def untouchable(tmp_path) -> Path:
    """Stand-ins for every system-changing command (each fails), and a counting psql."""
    real_psql = subprocess.run(["bash", "-c", "command -v psql"], capture_output=True, text=True).stdout.strip()
    return shims(tmp_path / "bin", {**{name: "exit 97" for name in SYSTEM_CHANGING},
                                    "psql": f'exec {real_psql} "$@"'})


def test_a_running_server_with_everything_in_place_is_only_checked(shared_server, untouchable):
    result = run({}, untouchable)
    assert result.returncode == 0 and result.stdout == "" and result.stderr == "", result
    made = calls(untouchable)
    assert [c for c in made if not c.startswith("psql ")] == []  # no apt, no pg_ctlcluster, no sudo
    assert len(made) <= 3  # quick: one connection check per role


def test_a_missing_database_and_role_are_created_and_nothing_else_changes(shared_server, untouchable):
    database, role = f"fsapp_setup_{uuid.uuid4().hex[:8]}", f"fsapp_setup_{uuid.uuid4().hex[:8]}"
    try:
        result = run({"FSAPP_SETUP_PG_DATABASE": database, "SUDO_USER": role}, untouchable)
        assert result.returncode == 0, result
        assert sql("SELECT 1 FROM pg_database WHERE datname = %s", database) == [(1,)]
        assert sql("SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", role) == [(True, False)]
        assert [c for c in calls(untouchable) if not c.startswith("psql ")] == []
        again = run({"FSAPP_SETUP_PG_DATABASE": database, "SUDO_USER": role}, untouchable)
        assert again.returncode == 0 and again.stdout == again.stderr == "", again  # idempotent
    finally:
        sql(f'DROP DATABASE IF EXISTS "{database}"')
        sql(f'DROP ROLE IF EXISTS "{role}"')


def test_with_fsapp_test_pg_url_the_server_is_only_checked(tmp_path):
    stand_ins = shims(tmp_path / "bin", {name: "exit 97" for name in SYSTEM_CHANGING + ("pg_isready",)})
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/test"
    result = run({"FSAPP_TEST_PG_URL": url}, stand_ins)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result
    assert "FSAPP_TEST_PG_URL does not answer" in result.stderr
    assert calls(stand_ins) == []  # nothing installed or started for someone else's server


def server_version() -> str:
    versions = sorted((p.parent.parent.name for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")),
                      key=lambda v: [int(x) for x in v.split(".") if x.isdigit()])
    if not versions:
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql")
    return versions[-1]


def test_nothing_answering_installs_creates_the_cluster_trusts_loopback_and_starts_it(tmp_path):
    """The fresh-machine path with stand-ins: the commands run, in order, and the pg_hba.conf of
    the cluster it created gets the loopback lines on top."""
    version, port, conf_root = server_version(), free_port(), tmp_path / "etc-postgresql"
    cluster_dir = conf_root / version / "fsapp_fresh"
    stand_ins = shims(tmp_path / "bin", {
        "dpkg": "exit 1",  # postgresql is not installed
        "apt-get": "exit 0",
        "pg_createcluster": f'mkdir -p "{cluster_dir}" && touch "{cluster_dir}/postgresql.conf" && '
                            f'printf "local all postgres peer\\n" > "{cluster_dir}/pg_hba.conf"',
        "pg_ctlcluster": 'case " $* " in *" status "*) exit 3;; esac; exit 0',  # down, then "started"
        "sudo": "exit 97", "runuser": "exit 97",
    })
    result = run({"FSAPP_SETUP_PG_PORT": str(port), "FSAPP_SETUP_PG_CLUSTER": "fsapp_fresh",
                  "PG_CLUSTER_CONF_ROOT": str(conf_root)}, stand_ins)
    # the stand-in start starts nothing, so the script ends saying so
    assert result.returncode == 1 and "nothing answers on 127.0.0.1" in result.stderr, result
    assert calls(stand_ins) == [
        "dpkg -s postgresql",
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends postgresql",
        f"pg_createcluster --port {port} {version} fsapp_fresh",
        f"pg_ctlcluster --skip-systemctl-redirect {version} fsapp_fresh status",
        f"pg_ctlcluster --skip-systemctl-redirect {version} fsapp_fresh start",
    ]
    assert (cluster_dir / "pg_hba.conf").read_text().splitlines() == [
        MARKER, "host    all    all    127.0.0.1/32    trust", "host    all    all    ::1/128    trust",
        "local all postgres peer"]


def test_an_installed_cluster_that_is_down_is_started_without_configuring_it(tmp_path):
    version, port, conf_root = server_version(), free_port(), tmp_path / "etc-postgresql"
    cluster_dir = conf_root / version / "fsapp_down"
    cluster_dir.mkdir(parents=True)
    (cluster_dir / "postgresql.conf").write_text("")
    (cluster_dir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 scram-sha-256\n")
    stand_ins = shims(tmp_path / "bin", {
        "dpkg": "exit 0",  # installed
        "pg_ctlcluster": 'case " $* " in *" status "*) exit 3;; esac; exit 0',
        **{name: "exit 97" for name in ("apt-get", "pg_createcluster", "sudo", "runuser")},
    })
    result = run({"FSAPP_SETUP_PG_PORT": str(port), "FSAPP_SETUP_PG_CLUSTER": "fsapp_down",
                  "PG_CLUSTER_CONF_ROOT": str(conf_root)}, stand_ins)
    assert result.returncode == 1, result
    assert calls(stand_ins) == [
        "dpkg -s postgresql",
        f"pg_ctlcluster --skip-systemctl-redirect {version} fsapp_down status",
        f"pg_ctlcluster --skip-systemctl-redirect {version} fsapp_down start",
    ]
    assert (cluster_dir / "pg_hba.conf").read_text() == "host all all 127.0.0.1/32 scram-sha-256\n"


@pytest.mark.skipif(os.environ.get("FSAPP_TEST_REAL_CLUSTER") != "1" or os.geteuid() != 0,
                    reason="creates a real throwaway cluster: set FSAPP_TEST_REAL_CLUSTER=1 and run as root")
def test_a_real_throwaway_cluster_is_created_started_and_usable(tmp_path):
    version, port, name = server_version(), free_port(), f"fsapp_{uuid.uuid4().hex[:8]}"
    env = {"FSAPP_SETUP_PG_PORT": str(port), "FSAPP_SETUP_PG_CLUSTER": name}
    try:
        first = run(env, tmp_path)
        assert first.returncode == 0, first
        assert f"creating PostgreSQL cluster {version}/{name}" in first.stdout
        for role in ("postgres", "root"):
            check = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", role, "-d", "test", "-w",
                                    "-Atc", "SELECT current_user"], capture_output=True, text=True, timeout=30)
            assert check.stdout.strip() == role, check
        again = run(env, tmp_path)
        assert again.returncode == 0 and again.stdout == again.stderr == "", again
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, name], capture_output=True, timeout=120)
