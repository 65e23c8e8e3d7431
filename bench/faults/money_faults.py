"""Money under faults (issue 14): calls through a real `fsapp serve` process and the fake
FreeSWITCH, FreeSWITCH's CDRs of every leg (built from the facts of the fake's legs, in the shape
of fs-transcripts/cdr) ingested by the CDR job, and the ledger counted per call.

Rows:
  * outbound calls; each CDR twice, the job run twice (a duplicated CDR, a CDR after the charge);
  * outbound calls whose CDR is ingested the moment the callee hangs up, racing the app's own
    charge in the other process (a CDR before or during it; the note says which came first);
  * inbound calls answered and bridged to a seat, CDRs of both legs (the seat leg is
    direction=outbound with an originator: it must never be charged on its own);
  * a do-not-call import of 100k rows (10k with --quick) by `fsapp dnc import` while calls run;
  * kill -9 of the app with every call bridged; the CDR job then charges each call once.

A call counts as charged when its leg has exactly one ``call:<uuid>`` ledger entry, lost when an
answered call has none, double when it has more or when a leg of it (seat, agent) was charged
itself (``cdr.phantom_charges``). The scenarios run in a child process (gevent patched first,
its own SQLite database): ``python -m bench.faults.money_faults --child [--quick]`` prints the rows
as JSON.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.faults import FaultRow

REPO = Path(__file__).resolve().parents[2]


def run(options) -> list[FaultRow]:
    argv = [sys.executable, "-m", "bench.faults.money_faults", "--child"] + (["--quick"] if options.quick else [])
    result = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=1800)
    if result.returncode:
        raise RuntimeError(f"money_faults failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return [FaultRow(**row) for row in json.loads(result.stdout.strip().splitlines()[-1])]


if __name__ == "__main__" and "--child" in sys.argv:
    from gevent import monkey

    monkey.patch_all()
    from bench.faults._money_child import main

    sys.exit(main(quick="--quick" in sys.argv))
