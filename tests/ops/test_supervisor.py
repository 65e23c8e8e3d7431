"""The supervisor of `fsapp serve --workers` with stand-in workers (tiny Python processes), for the
paths a real worker rarely takes: a worker exiting 2 stops everything; a crashing worker is
restarted with back-off; stop() terminates every worker and the exit code says how they ended.
The real workers are exercised in test_workers.py."""
from __future__ import annotations

import sys
from pathlib import Path

import gevent
import pytest

from fs_app import supervisor as supervisor_module
from fs_app.listeners import Listeners
from fs_app.supervisor import MetricsDirectory, Supervisor

# A stand-in worker: counts its starts in a file, then behaves as the test says for that start.
WORKER = """
import os, signal, sys, time
starts = sys.argv[1]
with open(starts, "a") as f:
    f.write(str(os.getpid()) + "\\n")
count = len(open(starts).read().split())
behaviour = sys.argv[2].split(",")[min(count, len(sys.argv[2].split(","))) - 1]
if behaviour.startswith("exit"):
    sys.exit(int(behaviour[4:]))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))  # "drain" at once
with open(starts + ".ready", "a") as f:
    f.write(str(os.getpid()) + "\\n")
while True:
    time.sleep(1)
"""


class StandInSupervisor(Supervisor):
    def __init__(self, listeners, workers, starts, behaviour):
        super().__init__(listeners, workers)
        self.starts, self.behaviour = starts, behaviour

    def _command(self, number):
        return [sys.executable, "-c", WORKER, f"{self.starts}.{number}", self.behaviour]


@pytest.fixture(autouse=True)
def private_metrics(monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # the supervisor makes its own


@pytest.fixture
def listeners():
    bound = Listeners.bind(("127.0.0.1", 0), ("127.0.0.1", 0))
    yield bound
    bound.close()


def lines(path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def wait_for_lines(path, count: int, timeout: float = 60.0) -> list[str]:
    with gevent.Timeout(timeout, AssertionError(f"{path} never reached {count} lines")):
        while len(lines(path)) < count:
            gevent.sleep(0.02)
    return lines(path)


def test_a_worker_exiting_2_stops_every_worker_and_the_supervisor_exits_2(listeners, tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor_module, "FIRST_RESTART_DELAY_S", 0.01)
    supervisor = StandInSupervisor(listeners, 1, tmp_path / "starts", "exit2")
    assert gevent.spawn(supervisor.run).get(timeout=60) == 2
    assert len(lines(tmp_path / "starts.1")) == 1  # not restarted
    assert listeners.esl.fileno() == -1  # the supervisor let go of the port


def test_a_crashing_worker_is_restarted_and_stop_terminates_all(listeners, tmp_path, monkeypatch):
    monkeypatch.setattr(supervisor_module, "FIRST_RESTART_DELAY_S", 0.01)
    supervisor = StandInSupervisor(listeners, 2, tmp_path / "starts", "exit1,exit1,run")
    runner = gevent.spawn(supervisor.run)
    for number in (1, 2):  # each slot: two crashes, then a worker that stays up
        wait_for_lines(tmp_path / f"starts.{number}.ready", 1)
        assert len(lines(tmp_path / f"starts.{number}")) == 3
    supervisor.stop()
    assert runner.get(timeout=60) == 0
    assert supervisor.stopping and not supervisor._processes


def test_the_metrics_directory_is_emptied_of_earlier_runs_and_dead_workers_stop_counting(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "counter_111.db").write_bytes(b"an earlier run")
    (tmp_path / "notes.txt").write_text("not ours")
    directory = MetricsDirectory()
    assert directory.path == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "gauge_livesum_222.db").write_bytes(b"")
    (tmp_path / "counter_222.db").write_bytes(b"")
    directory.mark_dead(222)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_222.db", "notes.txt"]  # counts stay
    directory.remove()
    assert tmp_path.exists()  # the operator's directory is not ours to remove


def test_without_a_configured_directory_a_temporary_one_is_used_and_removed():
    directory = MetricsDirectory()
    assert Path(directory.path).is_dir()
    directory.remove()
    assert not Path(directory.path).exists()
