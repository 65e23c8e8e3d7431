"""The container scripts, run for real with /bin/sh and a stand-in `fsapp` on PATH that records
its arguments: the entrypoint's dispatch, the jobs loop's heartbeat and SIGTERM, and the health
check script against a real HTTP server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest
from gevent.pywsgi import WSGIServer

from fs_app import metrics

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "docker" / "entrypoint.sh"
JOBS_LOOP = REPO / "docker" / "jobs-loop.sh"
HEALTHCHECK = REPO / "docker" / "healthcheck.py"

FAKE_FSAPP = """#!/bin/sh
echo "$*" >> "$FAKE_FSAPP_LOG"
case "$*" in
  "$FAKE_FSAPP_FAIL_ON") exit 3 ;;
esac
exit 0
"""


@pytest.fixture
def fake(tmp_path):
    """Environment with a recording `fsapp` first on PATH; calls() lists its invocations."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "fsapp"
    script.write_text(FAKE_FSAPP)
    script.chmod(0o755)
    log = tmp_path / "fsapp.log"

    class Fake:
        env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_FSAPP_LOG": str(log),
               "FAKE_FSAPP_FAIL_ON": "never"}

        @staticmethod
        def calls() -> list[str]:
            return log.read_text().splitlines() if log.exists() else []

    return Fake


def run(args, env, **kwargs):
    return subprocess.run(["/bin/sh", *map(str, args)], env=env, capture_output=True, text=True, timeout=30,
                          **kwargs)


def test_serve_initialises_renders_prompts_then_serves_with_the_given_options(fake, tmp_path):
    multiproc = tmp_path / "metrics"
    multiproc.mkdir()
    (multiproc / "counter_123.db").write_bytes(b"stale")
    (multiproc / "keep.txt").write_text("not ours")
    env = {**fake.env, "PROMETHEUS_MULTIPROC_DIR": str(multiproc)}

    result = run([ENTRYPOINT, "serve", "--esl", "127.0.0.1:8084", "--http", "0.0.0.0:8080"], env)

    assert result.returncode == 0, result.stderr
    assert fake.calls() == ["init", "prompts build", "serve --esl 127.0.0.1:8084 --http 0.0.0.0:8080"]
    assert not (multiproc / "counter_123.db").exists()  # an earlier run's samples are not summed in
    assert (multiproc / "keep.txt").exists()


def test_no_arguments_means_serve(fake):
    assert run([ENTRYPOINT], fake.env).returncode == 0
    assert fake.calls() == ["init", "prompts build", "serve"]


def test_a_failed_migration_stops_the_container_before_serving(fake):
    env = {**fake.env, "FAKE_FSAPP_FAIL_ON": "init"}
    result = run([ENTRYPOINT, "serve"], env)
    assert result.returncode == 3
    assert fake.calls() == ["init"]


def test_other_commands_go_to_fsapp(fake):
    result = run([ENTRYPOINT, "retention", "run", "--dry-run"], fake.env)
    assert result.returncode == 0
    assert fake.calls() == ["retention run --dry-run"]


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_jobs_loop_runs_every_interval_touches_the_heartbeat_and_stops_on_sigterm(fake, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    env = {**fake.env, "FSAPP_JOBS_INTERVAL_S": "0.05", "FSAPP_JOBS_HEARTBEAT": str(heartbeat)}
    process = subprocess.Popen(["/bin/sh", str(ENTRYPOINT), "jobs"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(fake.calls()) >= 3), fake.calls()
        assert set(fake.calls()) == {"jobs run"}
        assert heartbeat.exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "stopping" in process.stderr.read()


def test_jobs_loop_does_not_touch_the_heartbeat_when_the_run_fails(fake, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    env = {**fake.env, "FSAPP_JOBS_INTERVAL_S": "0.05", "FSAPP_JOBS_HEARTBEAT": str(heartbeat),
           "FAKE_FSAPP_FAIL_ON": "jobs run"}
    process = subprocess.Popen(["/bin/sh", str(JOBS_LOOP)], env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(fake.calls()) >= 2)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=5)
    assert not heartbeat.exists()
    assert "failed with exit code 3" in process.stderr.read()


# --- healthcheck.py -------------------------------------------------------------------------------

def healthcheck(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HEALTHCHECK), *map(str, args)], capture_output=True, text=True,
                          timeout=30)


def test_url_check_against_the_real_endpoints(sqlite_db):
    ready = {"up": True}
    server = WSGIServer(("127.0.0.1", 0), metrics.metrics_app({"event_socket": lambda: ready["up"]}), log=None)
    server.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        assert healthcheck("url", f"{base}/healthz").returncode == 0
        assert healthcheck("url", f"{base}/readyz").returncode == 0
        ready["up"] = False
        result = healthcheck("url", f"{base}/readyz")
        assert result.returncode == 1 and "HTTP 503" in result.stdout
    finally:
        server.stop()
    gevent.sleep(0)
    result = healthcheck("url", f"{base}/healthz")  # nobody listening any more
    assert result.returncode == 1 and base in result.stdout


def test_heartbeat_check(tmp_path):
    beat = tmp_path / "beat"
    assert healthcheck("heartbeat", beat, 300).returncode == 1
    beat.touch()
    assert healthcheck("heartbeat", beat, 300).returncode == 0
    old = time.time() - 301
    os.utime(beat, (old, old))
    result = healthcheck("heartbeat", beat, 300)
    assert result.returncode == 1 and "last successful run" in result.stdout
    assert healthcheck("nonsense").returncode == 2
