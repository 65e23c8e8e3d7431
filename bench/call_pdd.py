"""Post-dial delay benchmark: what stands between the agent's INVITE and the callee's INVITE.

    .venv/bin/python -m bench.call_pdd [--calls 100 --rate 10 --json PATH]

The real product (``bench/call_app.py --kind ours``, its own process) takes calls from the fake
FreeSWITCH (this process) with FreeSWITCH's 20 ms tick in real time: a sendmsg is taken up on
the channel's next tick, api/bgapi at once (fs-transcripts README, "Time" in the fake). Callees
answer 486 at once, as in the field measurement. It runs twice, interleaved in the same run:

* ``before``: the agent leg's sequence before issue 15 (``--flow before-issue-15``: answer,
  waited for; ringback; originate) behind the dialplan of that time (six ``set`` and the socket);
* ``after``: today's flow (originate at once, pre_answer and ringback in the same write) behind
  today's dialplan (dialplan/fsapp_agents.xml, counted from the file).

Per call it counts, between the agent leg's socket connect and the receipt of the originate:
the app's writes (each one a round trip it waited for), the channel's ticks, and the time. The
modelled post-dial delay added over a dialplan-only ``bridge`` to the same trunk is that time
plus the dialplan applications the product runs before the socket beyond the bridge's one,
at ``--dialplan-app-ms`` each (07: INVITE to socket connect took 4.4 ms for six sets and the
socket). The target (issue 15): at most 10 ms added at p50 and 15 ms at p95. Loopback only;
bounded in calls and time.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

from bench.call_app import SEAT_DOMAIN, callee_dialled, seat_user  # noqa: E402
from bench.call_setup import start_app, stop_app  # noqa: E402
from bench.stats import percentile  # noqa: E402
from fake_switch import FS_TICK, FakeFreeSwitch, LegScript  # noqa: E402

DIALPLAN = Path(__file__).resolve().parents[1] / "dialplan" / "fsapp_agents.xml"
#: the agent dialplan before issue 15: six `set` actions, then `socket`
DIALPLAN_BEFORE = ["set"] * 6 + ["socket"]
#: field figures of issue 15 (real FreeSWITCH 1.10.12, 10 calls/s, callees 486): p50, p95 ms
FIELD = {"product_before": (55.0, 75.0), "dialplan_bridge": (23.0, 25.0)}
TARGET_ADDED_MS = {"p50": 10.0, "p95": 15.0}


def dialplan_applications(path: Path = DIALPLAN, number: str = "13800138000") -> list[str]:
    """Applications the agents' context runs for an ordinary number, in order."""
    import re
    apps = []
    for extension in ET.parse(path).getroot().iter("extension"):
        for condition in extension.iter("condition"):
            if re.search(condition.get("expression", ""), number):
                apps += [action.get("application") for action in condition.iter("action")]
    return apps


def run(flow: str, args) -> dict:
    args.flow = "before-issue-15" if flow == "before" else "current"
    proc, port = start_app("ours", args)
    try:
        fake = FakeFreeSwitch("127.0.0.1", port, time_scale=1.0, tick=args.tick, record_frames=False,
                              default_callee=LegScript(outcome="busy"))
        calls = []
        started = time.monotonic()
        for i in range(args.calls):
            target = started + i / args.rate
            gevent.sleep(max(0.0, target - time.monotonic()))
            user = seat_user(i % args.seats)
            calls.append(fake.place_call(callee_dialled(i), user, sip_auth_username=user,
                                         sip_auth_realm=SEAT_DOMAIN, wait_connected=False))
        for call in calls:
            call.wait_ended(args.call_timeout)
    finally:
        stop_app(proc)
    measured = [c for c in calls if c.admission_latency is not None]
    apps = DIALPLAN_BEFORE if flow == "before" else dialplan_applications()
    dialplan_ms = (len(apps) - 1) * args.dialplan_app_ms  # the bridge runs one application too
    delays = [c.admission_latency * 1000 for c in measured]
    added = [d + dialplan_ms for d in delays]
    return {
        "flow": flow, "calls": len(calls), "measured": len(measured),
        "dialplan_applications": apps,
        "writes_before_originate": percentile([c.writes_before_callee_command for c in measured], 50),
        "ticks_before_originate": percentile([c.ticks_before_callee_command for c in measured], 50),
        "ticks_max": max((c.ticks_before_callee_command for c in measured), default=0),
        "connect_to_originate_p50_ms": percentile(delays, 50), "connect_to_originate_p95_ms": percentile(delays, 95),
        "added_p50_ms": percentile(added, 50), "added_p95_ms": percentile(added, 95),
        "modelled_pdd_p50_ms": FIELD["dialplan_bridge"][0] + percentile(added, 50),
        "modelled_pdd_p95_ms": FIELD["dialplan_bridge"][1] + percentile(added, 95),
        "agent_leg_endings": sorted({str(c.hangup_cause) for c in calls}),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per flow")
    parser.add_argument("--rate", type=float, default=10.0, help="calls placed per second")
    parser.add_argument("--tick", type=float, default=FS_TICK, help="FreeSWITCH's tick in seconds")
    parser.add_argument("--dialplan-app-ms", type=float, default=0.6,
                        help="cost of one dialplan application before the socket (07: 4.4 ms for 7)")
    parser.add_argument("--flows", default="before,after", help="before, after or both (comma-separated)")
    parser.add_argument("--seats", type=int, default=200)
    parser.add_argument("--call-timeout", type=float, default=10.0)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    # what bench.call_setup.start_app reads
    args.app, args.live, args.db_pool_size, args.pin = None, 0, 0, False
    flows = [f for f in args.flows.split(",") if f]
    report = {"params": {k: v for k, v in vars(args).items() if k != "json"}, "field": FIELD,
              "target_added_ms": TARGET_ADDED_MS, "flows": {}}
    for flow in flows:
        report["flows"][flow] = run(flow, args)

    print(f"\npost-dial delay: {args.calls} calls per flow at {args.rate:g}/s, FreeSWITCH tick "
          f"{args.tick * 1000:g} ms, callees 486 at once; dialplan application {args.dialplan_app_ms:g} ms")
    header = (f"{'flow':<8}{'dialplan apps':>14}{'app writes':>11}{'ticks':>7}{'connect->orig p50':>19}"
              f"{'p95':>7}{'added p50':>11}{'p95':>7}{'modelled PDD p50':>18}{'p95':>7}")
    print(header)
    print("-" * len(header))
    for flow, r in report["flows"].items():
        print(f"{flow:<8}{len(r['dialplan_applications']):>14}{r['writes_before_originate']:>11.0f}"
              f"{r['ticks_before_originate']:>7.0f}{r['connect_to_originate_p50_ms']:>19.1f}"
              f"{r['connect_to_originate_p95_ms']:>7.1f}{r['added_p50_ms']:>11.1f}{r['added_p95_ms']:>7.1f}"
              f"{r['modelled_pdd_p50_ms']:>18.1f}{r['modelled_pdd_p95_ms']:>7.1f}")
    field_added = tuple(p - b for p, b in zip(FIELD["product_before"], FIELD["dialplan_bridge"]))
    print(f"field, before issue 15: product p50 {FIELD['product_before'][0]:g} / p95 {FIELD['product_before'][1]:g} ms, "
          f"dialplan-only bridge {FIELD['dialplan_bridge'][0]:g} / {FIELD['dialplan_bridge'][1]:g} ms: "
          f"added {field_added[0]:g} / {field_added[1]:g} ms (the 'before' row models this)")
    after = report["flows"].get("after")
    if after:
        met = after["added_p50_ms"] <= TARGET_ADDED_MS["p50"] and after["added_p95_ms"] <= TARGET_ADDED_MS["p95"]
        report["target_met"] = met
        print(f"target: added <= {TARGET_ADDED_MS['p50']:g} ms p50 and <= {TARGET_ADDED_MS['p95']:g} ms p95: "
              + ("met" if met else "MISSED") + " (modelled)")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)
    return report


if __name__ == "__main__":
    main()
