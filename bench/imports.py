"""Do-not-call CSV imports on SQLite: peak memory and the longest write-lock hold, before (the
import of main before issue 14: the whole file read, every row validated into a list, one
transaction) and after (streamed, chunks of ``csv_import.CHUNK_ROWS``), measured in the same run.

    .venv/bin/python bench/imports.py [--sizes 10,50] [--variants before,after] [--chunk-rows 500,1000,2000,5000]

Each measurement runs in a fresh process (peak RSS, ``ru_maxrss``, is per process) on a fresh
database; the figure is the peak minus the process's RSS just before the import, next to the
file's size. The lock hold is the time spent inside each write transaction (what every other
writer, a call's admission included, may wait for). ``--chunk-rows`` then imports 100,000
short rows with each chunk size and prints the longest and the 99th-percentile hold, which is
how CHUNK_ROWS was chosen (the issue's budget: about 100 ms).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

REASON = "imported from the regulator's list; " * 12  # ~430 bytes: 10 MB is ~23k rows, 50 MB ~116k


def write_csv(path: Path, reason: str, *, megabytes: float = 0, rows: int = 0) -> int:
    """A do-not-call CSV of ``megabytes`` (or of ``rows`` rows); returns its row count."""
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write("number,reason\n")
        while (out.tell() < megabytes * 1_000_000) if megabytes else (written < rows):
            out.write(f"+86139{written:08d},{reason}\n")
            written += 1
    return written


def _before_module():
    """main's models/listing.py as it was before issue 14, loaded as a module of the models package."""
    source = subprocess.run(["git", "show", "20b237c:models/listing.py"], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    # what it imported relatively has since moved: pure helpers to domain, the rest into models' packages
    source = re.sub(r"^from \.(bounds|clock|errors|numbers) import", r"from domain.\1 import", source, flags=re.M)
    for old, new in (("audit", "complaints.audit"), ("db", "db"), ("lists", "lists.tables"),
                     ("provisioning", "tenancy.tenants"), ("tenancy", "tenancy.tables")):
        source = re.sub(rf"^from \.{old} import", f"from models.{new} import", source, flags=re.M)
    spec = importlib.util.spec_from_loader("models.listing_before", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "models"
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, "models/listing_before.py", "exec"), module.__dict__)
    return module


def child(variant: str, path: str, chunk_rows: int) -> dict:
    """One import in this process, its figures as a dict. (The before variant's count of
    transactions includes its savepoints; its lock hold is its one outer transaction.)"""
    import models
    from models import csv_import
    from models.lists import list_entries
    from models.tenancy import tenants

    directory = tempfile.mkdtemp(prefix="fsapp-bench-imports-")
    models.open_database("", directory)
    models.migrate()
    tenants.add_tenant("acme", name="Acme", display_name="Acme", hotline="4001234567", seats=2, rate=10)
    module = _before_module() if variant == "before" else list_entries
    transactions = module if variant == "before" else csv_import  # where the import's transactions open
    holds: list[float] = []
    original = transactions.write_transaction

    @contextlib.contextmanager
    def timed_transaction():
        began = time.perf_counter()
        with original():
            yield
        holds.append(time.perf_counter() - began)

    transactions.write_transaction = timed_transaction
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    if variant == "before":
        with open(path, encoding="utf-8-sig") as handle:
            report = module.import_dnc(handle.read(), tenant_code="acme")
    else:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            report = module.import_dnc(handle, tenant_code="acme", chunk_rows=chunk_rows)
    seconds = time.perf_counter() - began
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    holds.sort()
    return dict(variant=variant, rows=report.imported, errors=len(report.errors), seconds=seconds,
                peak_mb=(peak_kb - base_kb) / 1024, transactions=len(holds), hold_max_ms=holds[-1] * 1000,
                hold_p99_ms=holds[min(len(holds) - 1, int(len(holds) * 0.99))] * 1000)


def measure(variant: str, path: Path, chunk_rows: int) -> dict:
    result = subprocess.run([sys.executable, __file__, "--child", variant, str(path), str(chunk_rows)],
                            capture_output=True, text=True, cwd=REPO)
    if result.returncode:
        raise SystemExit(f"{variant} import failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50", help="file sizes in MB")
    parser.add_argument("--variants", default="before,after")
    parser.add_argument("--chunk-rows", default="500,1000,2000,5000", help="chunk sizes to compare ('' to skip)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        variant, path, chunk_rows = options.child
        print(json.dumps(child(variant, path, int(chunk_rows))))
        return 0
    from models.csv_import import CHUNK_ROWS

    with tempfile.TemporaryDirectory(prefix="fsapp-bench-imports-") as directory:
        print(f"{'file':>8} {'rows':>8} {'variant':>7} {'peak MB':>8} {'x file':>7} {'seconds':>8} "
              f"{'txns':>6} {'lock max ms':>11} {'lock p99 ms':>11}")
        for size in (float(s) for s in options.sizes.split(",") if s):
            path = Path(directory) / f"dnc-{size:g}mb.csv"
            rows = write_csv(path, REASON, megabytes=size)
            megabytes = path.stat().st_size / 1_000_000
            for variant in options.variants.split(","):
                figures = measure(variant, path, CHUNK_ROWS)
                assert figures["rows"] == rows and figures["errors"] == 0, figures
                print(f"{megabytes:>6.1f}MB {rows:>8} {variant:>7} {figures['peak_mb']:>8.1f} "
                      f"{figures['peak_mb'] / megabytes:>7.2f} {figures['seconds']:>8.1f} {figures['transactions']:>6} "
                      f"{figures['hold_max_ms']:>11.1f} {figures['hold_p99_ms']:>11.1f}", flush=True)
        if options.chunk_rows:
            path = Path(directory) / "dnc-100k.csv"
            rows = write_csv(path, "list", rows=100_000)
            print(f"\nchunk size vs write-lock hold, {rows} short rows (after):")
            print(f"{'chunk rows':>10} {'seconds':>8} {'txns':>6} {'lock max ms':>11} {'lock p99 ms':>11}")
            for chunk_rows in (int(c) for c in options.chunk_rows.split(",")):
                figures = measure("after", path, chunk_rows)
                print(f"{chunk_rows:>10} {figures['seconds']:>8.1f} {figures['transactions']:>6} "
                      f"{figures['hold_max_ms']:>11.1f} {figures['hold_p99_ms']:>11.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
