"""``fsapp serve --workers N``: N worker processes of one install on the sockets `fsapp serve` bound.

The supervisor (the process the operator started) holds the listening sockets for its whole life
and starts each worker as a fresh interpreter (``fs_app.serve_worker``) that inherits them, so
nothing of the supervisor's state (gevent's loop, database connections, threads, signal
handlers) is copied into a worker. All workers accept on the same two sockets: the kernel's one
accept queue per socket hands each new connection to whichever worker takes it first, and no other
process can join (no ``SO_REUSEPORT``).

* A worker that exits on its own is restarted after a back-off (1 s, doubling up to 60 s; back to
  1 s once a worker has run for a minute). Meanwhile the others take the calls, and connections
  that arrive wait in the accept queue rather than being refused. Exit code 2 (unusable
  configuration) is not retried: every worker is stopped and the supervisor exits 2.
* SIGTERM or SIGINT: forward SIGTERM to every worker (each drains its own calls, up to
  ``esl_drain_timeout_s``), close the supervisor's copies of the sockets (so that the port refuses
  new connections once the workers stopped accepting), wait for all, and exit 0 when every worker
  drained normally, 1 otherwise.
* Metrics: workers write prometheus-client's multiprocess files into ``PROMETHEUS_MULTIPROC_DIR``
  (emptied here at start; a private temporary directory when the variable is unset), so any
  worker answering /metrics reports all of them. An exited worker is marked dead there, so its
  live calls stop counting while its counters stay.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import gevent
from gevent.event import Event

from fs_app.listeners import Listeners, format_address

log = logging.getLogger("fsapp.serve")

FIRST_RESTART_DELAY_S = 1.0
LONGEST_RESTART_DELAY_S = 60.0
STABLE_AFTER_S = 60.0  # a worker that ran this long starts its slot's back-off afresh
EXIT_BAD_CONFIGURATION = 2


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class MetricsDirectory:
    """Where the workers' multiprocess metric files go: the operator's PROMETHEUS_MULTIPROC_DIR,
    emptied of an earlier run's files, or a temporary directory removed at the end."""

    def __init__(self):
        configured = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
        self.temporary = not configured
        self.path = tempfile.mkdtemp(prefix="fsapp-metrics-") if self.temporary else configured
        if not self.temporary:
            os.makedirs(self.path, exist_ok=True)
            for stale in glob.glob(os.path.join(self.path, "*.db")):
                os.unlink(stale)  # an earlier run's samples would be summed into ours

    def mark_dead(self, pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, self.path)

    def remove(self) -> None:
        if self.temporary:
            shutil.rmtree(self.path, ignore_errors=True)


class Supervisor:
    def __init__(self, listeners: Listeners, workers: int):
        self.listeners = listeners
        self.workers = workers
        self.stopping = False
        self.exit_code = 0
        self._stop_requested = Event()
        self._processes: dict[int, subprocess.Popen] = {}  # worker number -> its live process

    def run(self) -> int:
        metrics_dir = MetricsDirectory()
        handlers = [gevent.signal_handler(signum, self.stop, signum) for signum in (signal.SIGTERM, signal.SIGINT)]
        try:
            log.info("fsapp supervising %d workers on Event Socket %s, admin http://%s (pid %d)", self.workers,
                     format_address(*self.listeners.esl_address), format_address(*self.listeners.http_address),
                     os.getpid())
            slots = [gevent.spawn(self._keep_running, number, metrics_dir) for number in range(1, self.workers + 1)]
            gevent.joinall(slots)
        finally:
            for handler in handlers:
                handler.cancel()
            metrics_dir.remove()
        log.info("fsapp stopped (all %d workers)", self.workers)
        return self.exit_code

    def stop(self, signum: int | None = None) -> None:
        """Drain every worker, then let ``run`` return. Repeated signals change nothing."""
        if self.stopping:
            return
        self.stopping = True
        if signum is not None:
            log.info("signal %s received: stopping %d workers (each drains its calls)",
                     signal.Signals(signum).name, len(self._processes))
        for process in list(self._processes.values()):
            self._terminate(process)
        # Our copies must not keep the port open once the workers stop accepting: a connection
        # would then wait in a queue nobody reads instead of being refused.
        self.listeners.close()
        self._stop_requested.set()

    @staticmethod
    def _terminate(process: subprocess.Popen) -> None:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _command(self, number: int) -> list[str]:
        esl_fd, http_fd, *directory_fd = self.listeners.fds()
        # -P: do not put the current directory on sys.path (the fsapp script does not either)
        return [sys.executable, "-P", "-m", "fs_app.serve_worker", "--esl-fd", str(esl_fd), "--http-fd",
                str(http_fd), *(["--directory-fd", str(directory_fd[0])] if directory_fd else []),
                "--worker", str(number), "--workers", str(self.workers), "--supervisor", str(os.getpid())]

    def _keep_running(self, number: int, metrics_dir: MetricsDirectory) -> None:
        """One worker slot: start its process, restart it when it dies, until stopping."""
        delay = FIRST_RESTART_DELAY_S
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir.path}
        while not self.stopping:
            started = time.monotonic()
            try:
                # its own process group: a Ctrl-C in the terminal reaches the supervisor, which
                # forwards SIGTERM, rather than workers still starting up
                process = subprocess.Popen(self._command(number), env=env, pass_fds=self.listeners.fds(),
                                           process_group=0)
            except OSError as exc:  # out of processes or memory: like a worker that died at once
                log.error("worker %d could not be started: %s; retrying in %g s", number, exc, delay)
                self._stop_requested.wait(delay)
                delay = min(delay * 2, LONGEST_RESTART_DELAY_S)
                continue
            self._processes[number] = process
            if self.stopping:  # a signal came while it was being started
                self._terminate(process)
            code = process.wait()
            del self._processes[number]
            metrics_dir.mark_dead(process.pid)
            if self.stopping:
                if code not in (0, -signal.SIGTERM):  # -SIGTERM: stopped before it served anything
                    log.warning("worker %d (pid %d) stopped with %s", number, process.pid, describe_exit(code))
                    self.exit_code = self.exit_code or 1
                return
            if code == EXIT_BAD_CONFIGURATION:
                log.error("worker %d (pid %d) exited 2 (unusable configuration, see above): stopping all workers",
                          number, process.pid)
                self.exit_code = EXIT_BAD_CONFIGURATION
                self.stop()
                return
            if time.monotonic() - started >= STABLE_AFTER_S:
                delay = FIRST_RESTART_DELAY_S
            log.warning("worker %d (pid %d) ended unexpectedly (%s); restarting it in %g s",
                        number, process.pid, describe_exit(code), delay)
            self._stop_requested.wait(delay)
            delay = min(delay * 2, LONGEST_RESTART_DELAY_S)
