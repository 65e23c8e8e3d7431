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

from fs_app.call_workers import CallWorkersStatus
from fs_app.listeners import Listeners, format_address

log = logging.getLogger("fsapp.serve")

FIRST_RESTART_DELAY_S = 1.0
LONGEST_RESTART_DELAY_S = 60.0
STABLE_AFTER_S = 60.0  # a worker that ran this long starts its slot's back-off afresh
EXIT_BAD_CONFIGURATION = 2
WEB_WORKER = 0  # the web worker's slot number; call workers are 1..N


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
    def __init__(self, listeners: Listeners, workers: int, web_process: bool = False):
        self.listeners = listeners
        self.workers = workers
        self.web_process = web_process
        self.call_workers: CallWorkersStatus | None = None  # set in run() with --web-process
        self._call_slots: list[gevent.Greenlet] = []
        self.stopping = False
        self.exit_code = 0
        self._stop_requested = Event()
        self._processes: dict[int, subprocess.Popen] = {}  # worker number -> its live process

    def run(self) -> int:
        metrics_dir = MetricsDirectory()
        handlers = [gevent.signal_handler(signum, self.stop, signum) for signum in (signal.SIGTERM, signal.SIGINT)]
        try:
            if self.web_process:
                self.call_workers = CallWorkersStatus(os.path.join(metrics_dir.path, "call-workers.json"))
                self._report_call_workers()
            log.info("fsapp supervising %d workers on Event Socket %s, admin http://%s (pid %d%s)", self.workers,
                     format_address(*self.listeners.esl_address), format_address(*self.listeners.http_address),
                     os.getpid(), ", admin in a web worker of its own" if self.web_process else "")
            self._call_slots = [gevent.spawn(self._keep_running, number, metrics_dir)
                                for number in range(1, self.workers + 1)]
            web_slot = [gevent.spawn(self._keep_running, WEB_WORKER, metrics_dir)] if self.web_process else []
            gevent.joinall(self._call_slots + web_slot)
        finally:
            for handler in handlers:
                handler.cancel()
            if self.call_workers is not None:
                self.call_workers.remove()
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
        for number, process in list(self._processes.items()):
            if number != WEB_WORKER:
                self._terminate(process)
        if self.web_process:
            self._report_call_workers()
            gevent.spawn(self._stop_web_worker_after_calls)
        # Our copies must not keep the port open once the workers stop accepting: a connection
        # would then wait in a queue nobody reads instead of being refused.
        self.listeners.close()
        self._stop_requested.set()

    def _stop_web_worker_after_calls(self) -> None:
        """The web worker answers /readyz ("draining") and the admin until the calls drained."""
        gevent.joinall(self._call_slots)
        web = self._processes.get(WEB_WORKER)
        if web is not None:
            self._terminate(web)

    def _report_call_workers(self) -> None:
        running = sum(1 for number in self._processes if number != WEB_WORKER)
        self.call_workers.write(running, self.workers, self.stopping)

    @staticmethod
    def _name(number: int) -> str:
        return "web worker" if number == WEB_WORKER else f"worker {number}"

    @staticmethod
    def _terminate(process: subprocess.Popen) -> None:
        try:
            process.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass

    def _fds(self, number: int) -> tuple[int, ...]:
        """The sockets a worker inherits: all of them, or with --web-process only its own kind."""
        if not self.web_process:
            return self.listeners.fds()
        if number == WEB_WORKER:
            return (self.listeners.http.fileno(),)
        return tuple(sock.fileno() for sock in (self.listeners.esl, self.listeners.directory) if sock is not None)

    def _bound_addresses(self) -> dict[str, str]:
        addresses = {"FSAPP_ESL_LISTEN": format_address(*self.listeners.esl_address),
                     "FSAPP_HTTP_LISTEN": format_address(*self.listeners.http_address)}
        if self.listeners.directory is not None:
            addresses["FSAPP_DIRECTORY_LISTEN"] = format_address(*self.listeners.directory_address)
        return addresses

    def _command(self, number: int) -> list[str]:
        # -P: do not put the current directory on sys.path (the fsapp script does not either)
        command = [sys.executable, "-P", "-m", "fs_app.serve_worker", "--supervisor", str(os.getpid())]
        if number == WEB_WORKER:
            return command + ["--role", "web", "--http-fd", str(self.listeners.http.fileno()),
                              "--call-workers-status", self.call_workers.path]
        command += ["--esl-fd", str(self.listeners.esl.fileno())]
        if self.web_process:
            command += ["--role", "calls"]
        else:
            command += ["--http-fd", str(self.listeners.http.fileno())]
        if self.listeners.directory is not None:
            command += ["--directory-fd", str(self.listeners.directory.fileno())]
        return command + ["--worker", str(number), "--workers", str(self.workers)]

    def _keep_running(self, number: int, metrics_dir: MetricsDirectory) -> None:
        """One worker slot: start its process, restart it when it dies, until stopping."""
        delay = FIRST_RESTART_DELAY_S
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir.path}
        if self.web_process:  # each worker holds only its own sockets but names all the bound addresses
            env.update(self._bound_addresses())
        while not self.stopping:
            started = time.monotonic()
            try:
                # its own process group: a Ctrl-C in the terminal reaches the supervisor, which
                # forwards SIGTERM, rather than workers still starting up
                process = subprocess.Popen(self._command(number), env=env, pass_fds=self._fds(number),
                                           process_group=0)
            except OSError as exc:  # out of processes or memory: like a worker that died at once
                log.error("%s could not be started: %s; retrying in %g s", self._name(number), exc, delay)
                self._stop_requested.wait(delay)
                delay = min(delay * 2, LONGEST_RESTART_DELAY_S)
                continue
            self._processes[number] = process
            if self.stopping and (number != WEB_WORKER or all(slot.dead for slot in self._call_slots)):
                self._terminate(process)  # a signal came while it was being started
            if self.web_process:
                self._report_call_workers()
            code = process.wait()
            del self._processes[number]
            if self.web_process:
                self._report_call_workers()
            metrics_dir.mark_dead(process.pid)
            if self.stopping:
                if code not in (0, -signal.SIGTERM):  # -SIGTERM: stopped before it served anything
                    log.warning("%s (pid %d) stopped with %s", self._name(number), process.pid, describe_exit(code))
                    self.exit_code = self.exit_code or 1
                return
            if code == EXIT_BAD_CONFIGURATION:
                log.error("%s (pid %d) exited 2 (unusable configuration, see above): stopping all workers",
                          self._name(number), process.pid)
                self.exit_code = EXIT_BAD_CONFIGURATION
                self.stop()
                return
            if time.monotonic() - started >= STABLE_AFTER_S:
                delay = FIRST_RESTART_DELAY_S
            log.warning("%s (pid %d) ended unexpectedly (%s); restarting it in %g s",
                        self._name(number), process.pid, describe_exit(code), delay)
            self._stop_requested.wait(delay)
            delay = min(delay * 2, LONGEST_RESTART_DELAY_S)
