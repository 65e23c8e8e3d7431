"""`fsapp serve` as a real process for tests: started on ports the OS picks (``127.0.0.1:0``), read
line by line, waited on by what it prints (never by sleeping).

    serve = ServeProcess(env, "--workers", "2")
    serve.wait_serving(workers=2)            # the supervisor's line and both workers' lines
    serve.esl_port, serve.http_port, serve.nodes
    code, output = serve.stop()              # SIGTERM, then the exit code and everything printed
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

FSAPP = str(Path(sys.executable).parent / "fsapp")

# "fsapp serving: Event Socket 127.0.0.1:8084, admin http://127.0.0.1:8080 (node host:123, worker 1 of 2)"
SERVING = re.compile(r"fsapp serving: Event Socket (?P<esl>\S+), admin http://(?P<http>\S+) "
                     r"\(node (?P<node>[^,)]+)(?:, worker (?P<worker>\d+) of \d+)?\)")
DIRECTORY = re.compile(r"SIP directory for FreeSWITCH on http://(?P<address>\S+)/directory")
SUPERVISING = re.compile(r"fsapp supervising \d+ workers on Event Socket (?P<esl>\S+), admin http://(?P<http>\S+) ")


def port_of(address: str) -> int:
    return int(address.rpartition(":")[2])


class ServeProcess:
    def __init__(self, env: dict, *options: str, esl: str = "127.0.0.1:0", http: str = "127.0.0.1:0",
                 directory: str = "127.0.0.1:0"):
        # the directory only listens when env sets FSAPP_DIRECTORY_SECRET; its port is then picked too
        self.process = subprocess.Popen([FSAPP, "serve", "--esl", esl, "--http", http, "--directory", directory,
                                         *options], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.esl_port = self.http_port = 0
        self.directory_port = 0  # set by wait_directory()
        self.nodes: dict[int, str] = {}  # worker number (0 without --workers) -> node name

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # end of output
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern | str, after: int = 0, timeout: float = 60.0) -> tuple[re.Match, int]:
        """The first line from index ``after`` on that matches, and its index. ``timeout`` only
        bounds a process that never prints it (then the test fails with the output so far)."""
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        index = after
        with self._changed:
            while True:
                while index < len(self.lines):
                    match = pattern.search(self.lines[index])
                    if match:
                        return match, index
                    index += 1
                finished = self.lines[-1:] == [""] and self.process.poll() is not None
                left = deadline - time.monotonic()
                if finished or left <= 0:
                    raise AssertionError(f"fsapp serve never printed {pattern.pattern!r}:\n{self.output}")
                self._changed.wait(left)

    def wait_serving(self, workers: int = 0, timeout: float = 60.0) -> "ServeProcess":
        """Wait until the process (or each of ``workers`` workers) serves; note ports and nodes."""
        if workers:
            match, _ = self.wait_for(SUPERVISING, timeout=timeout)
            self.esl_port, self.http_port = port_of(match["esl"]), port_of(match["http"])
        index = 0
        while len(self.nodes) < max(workers, 1):
            match, index = self.wait_for(SERVING, after=index, timeout=timeout)
            self.nodes[int(match["worker"] or 0)] = match["node"]
            self.esl_port, self.http_port = port_of(match["esl"]), port_of(match["http"])
            index += 1
        return self

    def wait_directory(self, timeout: float = 60.0) -> int:
        """The SIP directory's port, once a process logged that it listens there."""
        match, _ = self.wait_for(DIRECTORY, timeout=timeout)
        self.directory_port = port_of(match["address"])
        return self.directory_port

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60.0) -> tuple[int, str]:
        """Send ``signum`` and wait for the exit; (exit code, output). Kills it if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"fsapp serve did not stop on {signal.Signals(signum).name}:\n{self.output}")
        self._reader.join(10)
        return code, self.output
