"""The README's call benchmark command runs end to end (a few calls, every app kind): its
numbers are only worth reading if every call it places is set up, held and ended."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_call_setup_benchmark_runs_every_kind(tmp_path):
    out = tmp_path / "results" / "call_setup.json"  # the folder does not exist yet
    proc = subprocess.run(
        [sys.executable, "-m", "bench.call_setup", "--calls", "20", "--rate", "50", "--concurrency", "10",
         "--seats", "40", "--live", "10", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    for kind in ("baseline", "channel", "ours"):
        setup = report["setup"][kind]
        assert (setup["setups"], setup["failed"]) == (20, 0), (kind, setup)
        assert setup["p99_ms"] > 0 and setup["app_cpu_ms_per_call"] > 0
        live = report["live"][kind]
        assert live["live_held"] == 10 and live["rss_mb_with_calls_held"] > 0, (kind, live)
    assert set(report["ratios"]) == {"channel", "ours"}
    assert "targets:" in proc.stdout and "ours/base" in proc.stdout
