"""Call-setup benchmark: the fake FreeSWITCH (this process) drives calls into an app process.

    .venv/bin/python -m bench.call_setup [--calls N --rate R --concurrency C --json PATH]
                                         [--app module:function] [--live 2000]
                                         [--only baseline,channel,ours] [--rates 50,100,200]

App kinds (bench/call_app.py), each started in its own OS process:

* ``baseline``: a bare greenswitch app that answers and bridges;
* ``channel``: our CallServer + Channel only (answer, ``bgapi originate``), no database --
  with ``--app module:function`` a hook runs before the originate;
* ``ours``: the real product (``make_handler(settings)``: seat identification, admission =
  facts + decide + reserve in one SQLite transaction, ringback, originate, metering) on a
  freshly provisioned database where every call is ALLOWED (distinct consented callee, its own
  seat slot). Callees fail fast (``--callee busy``), so setups do not pile up.

It places N calls at R calls/s with at most C calls in flight and reports per kind: admission
latency = TCP connect of the agent leg -> receipt of the callee-leg command (``bgapi originate``
for channel/ours, ``sendmsg execute bridge`` for the baseline), measured by the fake on receipt;
p50/p95/p99; sustained setups/s; failed calls (and how the agent legs ended); the app's peak RSS
(VmHWM). Ratios are kind / baseline from the same run. ``--live N`` holds N calls up at once
(both legs, bridged) and reports the app's RSS with them held. ``--rates`` repeats the setup runs
at each rate (each bounded by ``--calls`` and ``--max-seconds``) and reports, per kind, the highest
rate whose p99 still meets the target: the sizing figure for one process. Loopback only; the load
is bounded in count and time.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.lock import BoundedSemaphore  # noqa: E402

from bench.call_app import SEAT_DOMAIN, callee_dialled, seat_user  # noqa: E402
from bench.stats import highest_rate_meeting, percentile  # noqa: E402
from fake_switch import FakeFreeSwitch, LegScript, Press  # noqa: E402

KINDS = ("baseline", "channel", "ours")

# --pin: the fake FreeSWITCH on one core, the app on another, as a switch and an app server
# would not share a core; each is one Python process (one core at most) either way.
FAKE_CPU, APP_CPU = 0, 1
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TARGETS = {"setups_per_s": 500, "p99_ms_at_200_concurrent": 10.0, "p99_vs_baseline": 1.5, "rss_mb_2000_live": 300}


class Workers:
    """``fsapp serve --workers N`` on a provisioned database (``--workers``): the product as an
    operator runs it, N worker processes sharing one Event Socket port."""

    def __init__(self, args):
        from bench.call_app import TENANT, write_prompt_dir
        from fake_switch.serve_process import ServeProcess

        self.data_dir = tempfile.mkdtemp(prefix="fsapp-bench-workers-")
        prompt_dir = os.path.join(self.data_dir, "prompts")
        write_prompt_dir(prompt_dir, TENANT)
        subprocess.run([sys.executable, "-m", "bench.call_app", "--kind", "ours", "--provision-into", self.data_dir,
                        "--seats", str(args.seats), "--numbers", "4", "--callees", str(args.calls + args.live + 100)],
                       check=True, cwd=ROOT)
        env = dict(os.environ, FSAPP_DATA_DIR=self.data_dir, FSAPP_PROMPT_DIR=prompt_dir,
                   FSAPP_CALLING_WINDOWS="00:00-24:00", FSAPP_ESL_MAX_LIVE_CALLS=str(max(4 * args.seats, 10_000)),
                   FSAPP_LOG_LEVEL=args.log_level)
        self.serve = ServeProcess(env, "--workers", str(args.workers)).wait_serving(workers=args.workers)
        self.pid = self.serve.pid
        self.port = self.serve.esl_port

    def pids(self) -> list[int]:
        """The supervisor and every process under it."""
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            try:
                with open(f"/proc/{pid}/task/{pid}/children") as fh:
                    todo += [int(child) for child in fh.read().split()]
            except OSError:
                pass
        return out

    def stop(self) -> None:
        self.serve.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def app_cpu_seconds(proc) -> float:
    if isinstance(proc, Workers):
        return sum(cpu_seconds(pid) for pid in proc.pids())
    return cpu_seconds(proc.pid)


def start_app(kind: str, args, hold: bool = False):
    if kind == "ours" and getattr(args, "workers", 0):
        workers = Workers(args)
        workers.idle_rss_kb = 0
        return workers, workers.port
    # --callgrind (bench/call_instructions.py): the app runs under valgrind, which counts its instructions
    prefix = list(getattr(args, "app_prefix", None) or [])
    cmd = prefix + [sys.executable, "-m", "bench.call_app", "--kind", kind] + (["--hold"] if hold else [])
    if kind == "ours" and getattr(args, "flow", None):
        cmd += ["--flow", args.flow]
    if args.app and kind == "channel":
        cmd += ["--app", args.app]
    if kind == "ours":
        cmd += ["--seats", str(args.seats), "--callees", str(args.calls + args.live + 100),
                "--log-level", args.log_level] + (["--db-pool-size", str(args.db_pool_size)] if args.db_pool_size else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True,
                            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if args.pin:
        os.sched_setaffinity(proc.pid, {APP_CPU})
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"app {kind} did not start: {line!r}")
    proc.idle_rss_kb = proc_memory_kb(proc.pid).get("VmRSS", 0)
    return proc, int(line.split()[1])


def proc_memory_kb(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(("VmHWM:", "VmRSS:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


def stop_app(proc, timeout: float = 15) -> None:
    if isinstance(proc, Workers):
        proc.stop()
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of a process (this one by default)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Dialer:
    """Places calls the way each app kind expects: ours needs an authenticated seat and a
    distinct consented callee per call (seat ``i % seats``, callee ``i``)."""

    def __init__(self, kind: str, fake: FakeFreeSwitch, seats: int):
        self.kind, self.fake, self.seats, self.next = kind, fake, seats, 0

    def place(self, **kwargs):
        i, self.next = self.next, self.next + 1
        if self.kind != "ours":
            return self.fake.place_call(str(2000 + i % 1000), "1000", **kwargs)
        user = seat_user(i % self.seats)
        return self.fake.place_call(callee_dialled(i), user, sip_auth_username=user, sip_auth_realm=SEAT_DOMAIN,
                                    variables={"fsapp_direction": "outbound", "fsapp_campaign": ""}, **kwargs)


def callee_script(args) -> LegScript:
    if args.callee == "answer":
        return LegScript(hangup_after=args.hold_seconds, presses=[Press("2", 0.01)])
    return LegScript(outcome=args.callee)


def run_setups(kind: str, args) -> dict:
    proc, port = start_app(kind, args)
    try:
        fake = FakeFreeSwitch("127.0.0.1", port, tick=args.tick, record_frames=False,
                              time_scale=args.time_scale, default_callee=callee_script(args))
        dialer = Dialer(kind, fake, args.seats)
        gate = BoundedSemaphore(args.concurrency)
        calls = []
        failures = {"connect": 0, "no_callee_command": 0, "not_ended": 0}

        def one_call(i: int):
            try:
                call = dialer.place()
                calls.append(call)
                if call.connect_error is not None:
                    failures["connect"] += 1
                    return
                if not call.wait_ended(args.call_timeout):
                    failures["not_ended"] += 1
                    for leg in call.legs:
                        leg.hangup("NORMAL_CLEARING")
            finally:
                gate.release()

        # warm-up: a few calls so imports and first-call costs are not measured
        for i in range(min(20, args.calls)):
            gate.acquire()
            gevent.spawn(one_call, i).join()
        calls.clear()
        failures.update({"connect": 0, "no_callee_command": 0, "not_ended": 0})

        load_before = loadavg()
        app_cpu0, fake_cpu0 = app_cpu_seconds(proc), cpu_seconds()
        interval = 1.0 / args.rate
        started = time.monotonic()
        deadline = started + args.max_seconds
        workers = []
        for i in range(args.calls):
            target = started + i * interval
            now = time.monotonic()
            if now > deadline:
                break
            if target > now:
                gevent.sleep(target - now)
            gate.acquire()
            workers.append(gevent.spawn(one_call, i))
        gevent.joinall(workers, timeout=args.call_timeout + 10)
        # bench/call_instructions.py: runs of different sizes last equally long, so what the app
        # spends per second while idle (timers, the WAL checkpointer) cancels out of the difference
        gevent.sleep(max(0.0, started + getattr(args, "measure_for_s", 0.0) - time.monotonic()))
        app_cpu, fake_cpu = app_cpu_seconds(proc) - app_cpu0, cpu_seconds() - fake_cpu0
        latencies = [c.admission_latency * 1000 for c in calls if c.admission_latency is not None]
        failures["no_callee_command"] = sum(1 for c in calls if c.connect_error is None and c.admission_latency is None)
        commands = sorted(c.t_callee_command for c in calls if c.t_callee_command is not None)
        connects = sorted(c.t_connect for c in calls if c.t_connect is not None)
        span = (commands[-1] - connects[0]) if commands and connects else float("nan")
        memory = {} if isinstance(proc, Workers) else proc_memory_kb(proc.pid)
        endings: dict[str, int] = {}
        for c in calls:
            cause = c.a_leg.hangup_cause if c.a_leg is not None else None
            endings[str(cause)] = endings.get(str(cause), 0) + 1
        load_after = loadavg()
    finally:
        stop_app(proc)
    return {
        "kind": kind, "rate": args.rate, "calls": len(calls), "setups": len(latencies), "agent_leg_endings": endings,
        "loadavg_before": load_before, "loadavg_after": load_after,
        "app_cpu_ms_per_call": app_cpu * 1000 / max(1, len(calls)),
        "fake_cpu_ms_per_call": fake_cpu * 1000 / max(1, len(calls)),
        "failed": sum(failures.values()), "failures": failures,
        "setups_per_s": len(latencies) / span if span and span > 0 else float("nan"),
        "p50_ms": percentile(latencies, 50), "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99), "max_ms": max(latencies) if latencies else float("nan"),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        "peak_rss_mb": memory.get("VmHWM", 0) / 1024.0,
    }


def run_live(kind: str, args) -> dict:
    """Hold ``args.live`` calls up at once; report the app's RSS with them held."""
    proc, port = start_app(kind, args, hold=True)
    try:
        # callees never hang up by themselves; ours: they decline recording (2) and get bridged
        fake = FakeFreeSwitch("127.0.0.1", port, tick=args.tick, record_frames=False,
                              time_scale=args.live_time_scale,
                              default_callee=LegScript(presses=[Press("2", 0.01)]))
        dialer = Dialer(kind, fake, args.seats)
        calls = []
        started = time.monotonic()
        for i in range(args.live):
            calls.append(dialer.place(wait_connected=False))
            if i % 50 == 49:
                gevent.sleep(0.01)  # ~5000 calls/s ramp
        expected_legs = 2

        def all_up():
            return all(len(c.legs) >= expected_legs and all(not leg.hangup_started for leg in c.legs)
                       and c.legs[-1].bridged_with for c in calls)
        deadline = time.monotonic() + args.call_timeout + args.live / 200.0
        while not all_up() and time.monotonic() < deadline:
            gevent.sleep(0.2)
        up = sum(1 for c in calls if len(c.legs) >= expected_legs and c.legs[-1].bridged_with
                 and not any(leg.hangup_started for leg in c.legs))
        ramp = time.monotonic() - started
        gevent.sleep(2.0)
        memory = proc_memory_kb(proc.pid)
        baseline_kb = getattr(proc, "idle_rss_kb", 0)
        for call in calls:
            gevent.spawn(call.a_leg.hangup, "NORMAL_CLEARING")
        ended = sum(1 for c in calls if c.wait_ended(0 if c.ended.is_set() else 0.05) or c.ended.is_set())
        for call in calls:
            call.wait_ended(0.01)
        ended = sum(1 for c in calls if c.ended.is_set())
    finally:
        stop_app(proc)
    return {"kind": kind, "live_target": args.live, "live_held": up, "ramp_s": ramp,
            "rss_mb_with_calls_held": memory.get("VmRSS", 0) / 1024.0,
            "rss_mb_idle": baseline_kb / 1024.0,
            "peak_rss_mb": memory.get("VmHWM", 0) / 1024.0, "ended_after_hangup": ended}


def ratio(a, b):
    return a / b if b else float("nan")


def parse_rates(text: str) -> list[float]:
    try:
        rates = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise SystemExit(f"--rates: comma-separated numbers expected, got {text!r}") from None
    if not rates or rates[0] <= 0:
        raise SystemExit(f"--rates: positive call rates expected, got {text!r}")
    return rates


def print_sweep(report: dict) -> None:
    target = TARGETS["p99_ms_at_200_concurrent"]
    header = f"{'rate/s':>8}  {'app':<10}{'setups/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'failed':>8}" \
             f"{'app CPU ms/call':>17}"
    print("\nrate sweep")
    print(header)
    print("-" * len(header))
    for kind, points in report["sweep"].items():
        for r in points:
            print(f"{r['rate']:>8g}  {kind:<10}{r['setups_per_s']:>10.1f}{r['p50_ms']:>9.2f}{r['p95_ms']:>9.2f}"
                  f"{r['p99_ms']:>9.2f}{r['failed']:>8}{r['app_cpu_ms_per_call']:>17.2f}")
    report["p99_met_up_to"] = {}
    for kind, points in report["sweep"].items():
        best = report["p99_met_up_to"][kind] = highest_rate_meeting(points, target)
        print(f"{kind}: p99 <= {target:g} ms " + (f"up to {best:g} calls/s" if best else "at none of the swept rates")
              + " (one process)")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500.0, help="calls placed per second")
    parser.add_argument("--concurrency", type=int, default=200, help="max calls in flight")
    parser.add_argument("--callee", default="busy", choices=("busy", "no_answer", "reject", "answer"),
                        help="what callees do in the setup runs (busy: fail fast after 40 ms x time scale)")
    parser.add_argument("--hold-seconds", type=float, default=0.05, help="--callee answer: hangs up this long after")
    parser.add_argument("--time-scale", type=float, default=0.1, help="fake's media/far-end time scale")
    parser.add_argument("--live-time-scale", type=float, default=1.0,
                        help="fake's time scale while holding live calls (1: the duration limit is real time)")
    parser.add_argument("--db-pool-size", type=int, default=0, help="ours: FSAPP_DB_POOL_SIZE (default: product default)")
    parser.add_argument("--seats", type=int, default=0, help="ours: seats (default max(1000, 2 x live))")
    parser.add_argument("--log-level", default="INFO", help="ours: FSAPP_LOG_LEVEL (production default INFO)")
    parser.add_argument("--tick", type=float, default=0.0,
                        help="the fake's FreeSWITCH tick in seconds (real: 0.02; 0 measures the app alone)")
    parser.add_argument("--workers", type=int, default=0,
                        help="ours: run `fsapp serve --workers N` (N processes on one port) instead of one process")
    parser.add_argument("--call-timeout", type=float, default=20.0)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="stop placing calls after this")
    parser.add_argument("--app", help="module:function hook for our app, run before the originate")
    parser.add_argument("--live", type=int, default=0, help="also hold this many calls up and measure RSS")
    parser.add_argument("--only", help="comma-separated kinds among baseline,channel,ours (default all)")
    parser.add_argument("--rates", help="comma-separated call rates: repeat the setup runs at each and report the "
                                        "highest rate whose p99 meets the target (the table shows the last rate)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="do not pin the fake and the app to cores 0 and 1 (pinned when there are 2+)")
    args = parser.parse_args(argv)
    args.pin = args.pin and len(os.sched_getaffinity(0)) >= 2 and {FAKE_CPU, APP_CPU} <= os.sched_getaffinity(0)
    if args.pin:
        os.sched_setaffinity(0, {FAKE_CPU})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    kinds = [k for k in KINDS if k in args.only.split(",")] if args.only else list(KINDS)
    args.seats = args.seats or max(1000, 2 * args.concurrency, args.live + 200)
    rates = parse_rates(args.rates) if args.rates else [args.rate]
    report = {"params": {k: v for k, v in vars(args).items() if k != "json"}, "targets": TARGETS,
              "setup": {}, "live": {}}
    if args.rates:
        report["sweep"] = {}
    for kind in kinds:
        for rate in rates:
            args.rate = rate
            report["setup"][kind] = run_setups(kind, args)
            if args.rates:
                report["sweep"].setdefault(kind, []).append(report["setup"][kind])
    if args.live:
        for kind in kinds:
            report["live"][kind] = run_live(kind, args)
    if "baseline" in report["setup"]:
        base = report["setup"]["baseline"]
        report["ratios"] = {kind: {key: ratio(r[key], base[key]) for key in ("p50_ms", "p95_ms", "p99_ms",
                                                                           "setups_per_s", "peak_rss_mb")}
                            for kind, r in report["setup"].items() if kind != "baseline"}

    if args.rates:
        print_sweep(report)
    print(f"\ncall setup: {args.calls} calls at {args.rate:g}/s, concurrency {args.concurrency}, "
          f"tick {args.tick * 1000:g} ms, "
          + (f"fake on core {FAKE_CPU}, app on core {APP_CPU}" if args.pin else "not pinned"))
    header = f"{'app':<10}{'setups':>8}{'failed':>8}{'setups/s':>10}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}" \
             f"{'max ms':>9}{'peak RSS MB':>13}"
    print(header)
    print("-" * len(header))
    for kind, r in report["setup"].items():
        print(f"{kind:<10}{r['setups']:>8}{r['failed']:>8}{r['setups_per_s']:>10.1f}{r['p50_ms']:>9.2f}"
              f"{r['p95_ms']:>9.2f}{r['p99_ms']:>9.2f}{r['max_ms']:>9.2f}{r['peak_rss_mb']:>13.1f}")
    for kind, rr in report.get("ratios", {}).items():
        print(f"{kind[:5] + '/base':<10}{'':>8}{'':>8}{rr['setups_per_s']:>10.2f}{rr['p50_ms']:>9.2f}"
              f"{rr['p95_ms']:>9.2f}{rr['p99_ms']:>9.2f}{'':>9}{rr['peak_rss_mb']:>13.2f}")
    for kind, r in report["setup"].items():
        print(f"{kind}: app CPU {r['app_cpu_ms_per_call']:.2f} ms/call (fake {r['fake_cpu_ms_per_call']:.2f}); "
              f"agent legs ended {r['agent_leg_endings']}; failures {r['failures']}; "
              f"load {r['loadavg_before']} -> {r['loadavg_after']}")
    for kind, r in report["live"].items():
        print(f"live {kind}: {r['live_held']}/{r['live_target']} calls held, RSS {r['rss_mb_with_calls_held']:.1f} MB "
              f"(peak {r['peak_rss_mb']:.1f} MB), ramp {r['ramp_s']:.1f} s")
    print(f"targets: >= {TARGETS['setups_per_s']} setups/s; p99 <= {TARGETS['p99_ms_at_200_concurrent']} ms at 200 "
          f"concurrent; p99 <= {TARGETS['p99_vs_baseline']}x baseline; 2000 live calls <= "
          f"{TARGETS['rss_mb_2000_live']} MB")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)  # bench/results/ is not in git
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
