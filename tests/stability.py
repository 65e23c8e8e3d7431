"""Run the flow and concurrency tests many times in a row while CPU burners keep every core busy.

    .venv/bin/python tests/stability.py [--runs 20] [--burners N] [--log-dir DIR] [-- PYTEST ARGS...]

Each run is one pytest process over the tests whose outcome could depend on timing (the call
flows through the fake FreeSWITCH, the Event Socket layer, metering, the multi-process
concurrency tests, the benchmark smoke test); its line says PASS or FAIL, the pytest summary,
the failing tests and the 1-minute load average seen during the run. The summary gives runs,
passes, failures and the load. Exit status 0 only when every run passed.

The burners are separate Python processes spinning on the CPU (one per core by default). They
stop by themselves: each has a deadline (``--burner-seconds``, by default a generous bound for
all the runs) and exits as soon as this script's process is gone, so an interrupted or killed
run never leaves them spinning. Other people's work on the machine adds to the load.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TESTS = ["tests/flows", "tests/esl", "tests/metering", "tests/policy/test_concurrency.py",
         "tests/ops/test_multinode.py", "tests/test_bench.py"]

# A busy loop that ends at its deadline or when its parent (this script) is gone.
BURNER = """
import os, sys, time
deadline, parent = time.monotonic() + float(sys.argv[1]), int(sys.argv[2])
while time.monotonic() < deadline and os.getppid() == parent:
    for _ in range(200_000):
        pass
"""


def start_burners(count: int, seconds: float) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", BURNER, str(seconds), str(os.getpid())],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(count)]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class LoadSampler(threading.Thread):
    """The 1-minute load average, every few seconds, tagged with the run it belongs to."""

    def __init__(self, every: float = 5.0):
        super().__init__(daemon=True)
        self.every = every
        self.run_number = 0
        self.samples: list[tuple[int, float]] = []
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append((self.run_number, os.getloadavg()[0]))

    def stop(self) -> None:
        self._stop.set()

    def of(self, run_number: int | None = None) -> list[float]:
        return [load for n, load in self.samples if run_number is None or n == run_number]


def describe(loads: list[float]) -> str:
    if not loads:
        return "load n/a"
    return f"load min {min(loads):.2f} mean {statistics.fmean(loads):.2f} max {max(loads):.2f}"


def summary_line(output: str) -> str:
    lines = [line for line in output.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    return lines[-1].strip("= ") if lines else "(no pytest summary)"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--burners", type=int, default=os.cpu_count() or 2,
                        help="busy processes (default: one per core)")
    parser.add_argument("--run-timeout", type=float, default=1800.0, help="seconds one pytest run may take")
    parser.add_argument("--burner-seconds", type=float, default=None,
                        help="burners stop by themselves after this (default: runs x run timeout)")
    parser.add_argument("--log-dir", default=str(REPO / "var" / "stability"), help="one pytest log per run")
    parser.add_argument("pytest_args", nargs="*", help="after --: test paths and pytest options (default: the "
                                                       "flow and concurrency tests)")
    args = parser.parse_args(argv)
    paths = args.pytest_args or TESTS
    log_dir = Path(args.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CI": "true"}  # a missing PostgreSQL fails instead of skipping

    burners = start_burners(args.burners, args.burner_seconds or args.runs * args.run_timeout)
    sampler = LoadSampler()
    sampler.start()
    current: list[subprocess.Popen] = []

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    results: list[bool] = []
    started = time.monotonic()
    print(f"stability: {args.runs} runs of {' '.join(paths)} with {len(burners)} CPU burner(s) on "
          f"{os.cpu_count()} core(s); logs in {log_dir}", flush=True)
    try:
        for number in range(1, args.runs + 1):
            sampler.run_number = number
            log_path = log_dir / f"run-{number:02d}.log"
            t0 = time.monotonic()
            with open(log_path, "w") as log:
                process = subprocess.Popen([sys.executable, "-m", "pytest", *paths, "-q", "-p", "no:cacheprovider"],
                                           cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
                current[:] = [process]
                try:
                    code = process.wait(timeout=args.run_timeout)
                except subprocess.TimeoutExpired:
                    stop([process])
                    code = "timeout"
                current.clear()
            output = log_path.read_text(errors="replace")
            passed = code == 0
            results.append(passed)
            print(f"run {number:2d}/{args.runs}: {'PASS' if passed else 'FAIL'}  {summary_line(output)}  "
                  f"({time.monotonic() - t0:.0f} s, {describe(sampler.of(number))})", flush=True)
            if not passed:
                for line in output.splitlines():
                    if line.startswith(("FAILED", "ERROR")):
                        print(f"    {line}", flush=True)
                if code == "timeout":
                    print(f"    run did not finish within {args.run_timeout:.0f} s", flush=True)
    except KeyboardInterrupt:
        print("stability: interrupted", flush=True)
    finally:
        stop(current + burners)
        sampler.stop()
    passes = sum(results)
    print(f"stability: {len(results)} run(s), {passes} passed, {len(results) - passes} failed in "
          f"{(time.monotonic() - started) / 60:.1f} min; {describe(sampler.of())} (1-minute load average, "
          f"{os.cpu_count()} cores)", flush=True)
    return 0 if results and passes == len(results) == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
