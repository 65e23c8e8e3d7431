"""App CPU per call set-up as instructions counted by valgrind (callgrind): a figure a busy, shared
machine cannot move, unlike the CPU seconds `bench.call_setup` reads from /proc.

    .venv/bin/python -m bench.call_instructions [--calls 40,120] [--only baseline,ours]

Each app kind of `bench.call_setup` (the bare greenswitch baseline that answers and bridges, and
the whole product) runs twice under callgrind, the same way each time (start, 20 warm-up calls,
N calls, the rest of a fixed measuring time idle, SIGTERM), with two values of N. The difference
of the two totals divided by the difference of N is what one more call costs: start-up, imports,
provisioning, warm-up, what the app spends per idle second (timers, the WAL checkpointer thread)
and shutdown cancel out. Callees are busy, as in `bench.call_setup`: each call is a full admission,
ringback, originate, failure charge, prompt and hangup for ours; answer and bridge for the
baseline. Prints instructions per call per kind and ours / baseline (issue 15's bar: 1.2x).
Valgrind slows the app about 50x, so calls are placed slowly and time-outs are long.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import glob  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from bench.call_setup import run_setups  # noqa: E402

BAR = 1.2  # issue 15: the whole app's CPU per call set-up at most 1.2x the bare baseline's


def callgrind_total(out_dir: str) -> int:
    """The instruction total of the one callgrind dump in ``out_dir``."""
    dumps = glob.glob(os.path.join(out_dir, "callgrind.out.*"))
    if len(dumps) != 1:
        raise SystemExit(f"expected one callgrind dump in {out_dir}, found {dumps}")
    with open(dumps[0]) as fh:
        for line in fh:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit(f"no totals in {dumps[0]}")


def counted_run(kind: str, calls: int, options) -> dict:
    out_dir = tempfile.mkdtemp(prefix=f"fsapp-callgrind-{kind}-")
    args = argparse.Namespace(
        calls=calls, rate=options.rate, concurrency=options.concurrency, callee="busy", hold_seconds=0.05,
        time_scale=0.1, db_pool_size=0, seats=max(1000, calls + 100), log_level="INFO", tick=0.0, workers=0,
        call_timeout=options.call_timeout, max_seconds=10_000.0, app=None, live=0, flow=None, pin=False,
        measure_for_s=options.measure_for,
        app_prefix=["valgrind", "--tool=callgrind", "--dump-instr=no", "--dump-line=no",
                    f"--log-file={out_dir}/valgrind.log", f"--callgrind-out-file={out_dir}/callgrind.out.%p"])
    try:
        result = run_setups(kind, args)
        result["instructions"] = callgrind_total(out_dir)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    if result["failed"]:
        raise SystemExit(f"{kind}: {result['failed']} of {calls} calls failed under valgrind ({result['failures']}); "
                         "the difference would not be per call")
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", default="40,120", help="the two call counts N1,N2 (N2 > N1)")
    parser.add_argument("--only", default="baseline,ours", help="kinds among baseline,channel,ours")
    parser.add_argument("--rate", type=float, default=2.0, help="calls placed per second (valgrind is slow)")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--call-timeout", type=float, default=120.0)
    parser.add_argument("--measure-for", type=float, default=0.0,
                        help="seconds each run's measured phase lasts (default: N2 / rate + 60)")
    options = parser.parse_args(argv)
    try:
        low, high = sorted(int(part) for part in options.calls.split(","))
    except ValueError:
        raise SystemExit(f"--calls: two whole numbers N1,N2 expected, got {options.calls!r}") from None
    if not 0 < low < high:
        raise SystemExit(f"--calls: 0 < N1 < N2 expected, got {options.calls!r}")
    options.measure_for = options.measure_for or high / options.rate + 60.0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    per_call = {}
    for kind in options.only.split(","):
        first, second = counted_run(kind, low, options), counted_run(kind, high, options)
        per_call[kind] = (second["instructions"] - first["instructions"]) / (high - low)
        print(f"{kind:<10} {low} calls: {first['instructions']:,} instructions; {high} calls: "
              f"{second['instructions']:,}; per call: {per_call[kind]:,.0f}", flush=True)
    report = {"instructions_per_call": per_call}
    if "baseline" in per_call:
        for kind, value in per_call.items():
            if kind != "baseline":
                report[f"{kind}_vs_baseline"] = value / per_call["baseline"]
                print(f"{kind} / baseline: {value / per_call['baseline']:.2f}x (bar {BAR}x)")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
