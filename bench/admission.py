"""Admission benchmark: facts + decide, + reserve and record, + release; p50/p95/p99 per backend.

    .venv/bin/python bench/admission.py                 # SQLite and PostgreSQL, 2000 calls each
    .venv/bin/python bench/admission.py --backend sqlite --calls 5000 --explain
    .venv/bin/python bench/admission.py --backend sqlite --wal-autocheckpoint 0

Data (10k tenants, 100k consent records, 1M call records, 300k attempts, 300k past holds) is
generated once and cached: the SQLite file in bench/results/ (git-ignored), the PostgreSQL
database ``fsapp_bench`` next to the test database (FSAPP_TEST_PG_URL, default
postgresql://postgres@127.0.0.1:5432/test). ``--rebuild`` regenerates. Each run deletes what the
previous run wrote, so runs are comparable. Targets: p99 <= 3 ms SQLite, <= 5 ms PostgreSQL.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import models  # noqa: E402
from admission_data import NOW, VERSION, consented_from_db, generate, workload  # noqa: E402
from bench.stats import percentile  # noqa: E402
from fs_app.admission import admit, evaluate, release  # noqa: E402
from fs_app.config import load_settings  # noqa: E402
from fs_app.policy import CallRequest  # noqa: E402
from models import Attempt, CallRecord, Hold  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get("FSAPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_BENCH_DB = "fsapp_bench"
TARGET_P99_MS = {"sqlite": 3.0, "postgres": 5.0}


def _meta_version() -> str | None:
    try:
        rows = models.database.execute_sql("SELECT version FROM bench_meta").fetchall()
    except Exception:  # noqa: BLE001 - table missing: not generated yet
        models.database.rollback() if models.is_postgres() else None
        return None
    return rows[0][0] if rows else None


def _generate_here() -> None:
    models.migrate()
    started = time.perf_counter()
    generate(progress=lambda line: print(line, flush=True))
    models.database.execute_sql("CREATE TABLE bench_meta (version TEXT)")
    models.database.execute_sql(f"INSERT INTO bench_meta (version) VALUES ('{VERSION}')")
    models.database.execute_sql("ANALYZE")
    print(f"  generated in {time.perf_counter() - started:.0f} s", flush=True)


def open_sqlite(rebuild: bool, wal_autocheckpoint: int | None = None) -> str:
    """Open the cached database the way `fsapp serve` does: pooled connections, WAL checkpoints in
    a background thread (``models.db.start_wal_checkpointer``) unless --wal-autocheckpoint says
    otherwise."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "admission.db"
    served = wal_autocheckpoint is None
    models.open_database(f"sqlite:///{path}", checkpoint_in_background=served)
    if rebuild or _meta_version() != VERSION:
        # every pooled connection, not only this one: a pooled connection left open would write
        # the new data into the unlinked file, and the cache would never persist
        models.database.obj.close_all()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        models.open_database(f"sqlite:///{path}", checkpoint_in_background=served)
        print(f"generating {path}", flush=True)
        _generate_here()
    if served:  # after any rebuild, so that its connection opens the new file
        models.db.start_wal_checkpointer()
    if wal_autocheckpoint is not None:
        # 0 moves WAL checkpoints off the call path (to a periodic `PRAGMA wal_checkpoint`)
        models.database.execute_sql(f"PRAGMA wal_autocheckpoint = {int(wal_autocheckpoint)}")
    return str(path)


def open_postgres(rebuild: bool) -> str:
    import psycopg2

    parts = urlparse(PG_ADMIN_URL)
    admin = psycopg2.connect(dbname=parts.path.lstrip("/"), user=parts.username, password=parts.password,
                             host=parts.hostname, port=parts.port or 5432)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_BENCH_DB,))
        exists = cursor.fetchone() is not None
    url = f"postgresql://{parts.username or 'postgres'}@{parts.hostname}:{parts.port or 5432}/{PG_BENCH_DB}"
    if exists:
        models.open_database(url, pool_size=4)
        if not rebuild and _meta_version() == VERSION:
            admin.close()
            return url
        models.database.obj.close_all()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}"')
        cursor.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    admin.close()
    models.open_database(url, pool_size=4)
    print(f"generating PostgreSQL database {PG_BENCH_DB}", flush=True)
    _generate_here()
    return url


def clean_previous_run() -> None:
    with models.database.atomic():
        Hold.delete().where(Hold.call_uuid.startswith("bench-")).execute()
        Attempt.delete().where(Attempt.call_uuid.startswith("bench-")).execute()
        CallRecord.delete().where(CallRecord.agent_uuid.startswith("bench-")).execute()


def percentiles(samples: list[float]) -> dict:
    return {"p50": percentile(samples, 50), "p95": percentile(samples, 95), "p99": percentile(samples, 99),
            "max": max(samples)}


def explain(pairs, settings) -> None:
    """Print the plan of every loader query for one call (EXPLAIN / EXPLAIN QUERY PLAN)."""
    captured = []
    real = models.database.obj.execute_sql

    def capture(sql, params=None, *args, **kwargs):
        captured.append((sql, params))
        return real(sql, params, *args, **kwargs)

    models.database.obj.execute_sql = capture
    try:
        seat, callee = pairs[0]
        evaluate(CallRequest(call_uuid="explain", dialled=callee, seat_address=seat), NOW, settings)
    finally:
        models.database.obj.execute_sql = real
    prefix = "EXPLAIN ANALYZE " if models.is_postgres() else "EXPLAIN QUERY PLAN "
    for sql, params in captured:
        print("\n" + sql)
        for row in real(prefix + sql, params).fetchall():
            print("   ", " | ".join(str(c) for c in row))


def commit_floor() -> dict:
    """Latency of the smallest write transaction (one-row UPDATE + COMMIT) on this machine: the
    floor under every admission that reserves, set by the disk's fsync."""
    models.database.execute_sql("CREATE TABLE IF NOT EXISTS bench_commit_probe (id INTEGER PRIMARY KEY, v INTEGER)")
    models.database.execute_sql("DELETE FROM bench_commit_probe")
    models.database.execute_sql("INSERT INTO bench_commit_probe (id, v) VALUES (1, 0)")
    samples = []
    for _ in range(1000):
        started = time.perf_counter()
        with models.write_transaction():
            models.database.execute_sql("UPDATE bench_commit_probe SET v = v + 1 WHERE id = 1")
        samples.append((time.perf_counter() - started) * 1000)
    models.database.execute_sql("DROP TABLE bench_commit_probe")
    return percentiles(samples)


def run(backend: str, calls: int, rebuild: bool, show_plans: bool, wal_autocheckpoint: int | None = None,
        synchronous_commit: str | None = None, per_call_connection: bool = False) -> dict:
    if backend == "sqlite":
        label = backend + (f" (wal_autocheckpoint={wal_autocheckpoint})" if wal_autocheckpoint is not None
                           else " (as fsapp serve: pooled, checkpoints in the background)")
    else:
        label = backend
    print(f"\n== {label} ==", flush=True)
    location = open_sqlite(rebuild, wal_autocheckpoint) if backend == "sqlite" else open_postgres(rebuild)
    settings = load_settings({"FSAPP_DATA_DIR": str(RESULTS)})
    if backend == "postgres" and synchronous_commit:
        # for this benchmark session only: separates the admission's own cost from the disk's
        models.database.execute_sql(f"SET synchronous_commit = {synchronous_commit}")
        print(f"  synchronous_commit = {synchronous_commit} for this session")
    clean_previous_run()
    pairs = workload(consented_from_db(), calls + 200)
    warmup, pairs = pairs[:200], pairs[200:]
    if show_plans:
        explain(pairs, settings)
    for i, (seat, callee) in enumerate(warmup):  # caches, connection, plans
        evaluate(CallRequest(call_uuid=f"warm-{i}", dialled=callee, seat_address=seat), NOW, settings)
    timings = {"evaluate (facts+decide)": [], "admit (facts+decide+reserve+record)": [], "release": [],
               "admit+release": []}
    allowed = 0
    queries = []
    for i, (seat, callee) in enumerate(pairs):
        now = NOW + timedelta(milliseconds=i)
        request = CallRequest(call_uuid=f"bench-{i}", dialled=callee, seat_address=seat)
        if per_call_connection:
            models.database.close()  # like a live call's greenlet: admission opens its own (unit_of_work)
        t0 = time.perf_counter()
        evaluate(request, now, settings)
        if per_call_connection:
            models.database.close()
        t1 = time.perf_counter()
        admission = admit(request, now, settings, node="bench")
        t2 = time.perf_counter()
        if per_call_connection:
            models.database.close()
        release(request.call_uuid, now)
        t3 = time.perf_counter()
        allowed += admission.allowed
        queries.append(admission.decision.facts.get("debug", {}).get("queries", 0))
        timings["evaluate (facts+decide)"].append((t1 - t0) * 1000)
        timings["admit (facts+decide+reserve+record)"].append((t2 - t1) * 1000)
        timings["release"].append((t3 - t2) * 1000)
        timings["admit+release"].append((t3 - t1) * 1000)
    clean_previous_run()
    rows = CallRecord.select().count()
    print(f"{location}: {rows} call records; {len(pairs)} calls, {allowed} allowed; "
          f"reads per admission {min(queries)}-{max(queries)} (+3 writes and COMMIT when allowed)")
    result = {}
    for name, samples in timings.items():
        p = percentiles(samples)
        result[name] = p
        print(f"  {name:40s} p50 {p['p50']:6.3f} ms  p95 {p['p95']:6.3f} ms  p99 {p['p99']:6.3f} ms  max {p['max']:7.3f} ms")
    floor = commit_floor()
    print(f"  {'commit floor (1-row UPDATE + COMMIT)':40s} p50 {floor['p50']:6.3f} ms  p95 {floor['p95']:6.3f} ms  "
          f"p99 {floor['p99']:6.3f} ms  max {floor['max']:7.3f} ms")
    target = TARGET_P99_MS[backend]
    p99 = result["admit (facts+decide+reserve+record)"]["p99"]
    print(f"  target p99 <= {target} ms for admit: {'met' if p99 <= target else 'MISSED'}")
    if models.is_postgres():
        models.database.obj.close_all()
    else:
        models.database.close()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached data")
    parser.add_argument("--explain", action="store_true", help="print the query plans of one call's facts")
    parser.add_argument("--synchronous-commit", choices=("on", "off"),
                        help="PostgreSQL: synchronous_commit for the benchmark session (off: measure without fsync)")
    parser.add_argument("--per-call-connection", action="store_true",
                        help="close the connection before each step, as a live call's greenlet does")
    parser.add_argument("--wal-autocheckpoint", type=int, metavar="PAGES",
                        help="SQLite: set PRAGMA wal_autocheckpoint for the run (0 = checkpoints off the call path)")
    args = parser.parse_args(argv)
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    for backend in backends:
        run(backend, args.calls, args.rebuild, args.explain, args.wal_autocheckpoint, args.synchronous_commit,
            args.per_call_connection)
    return 0


if __name__ == "__main__":
    sys.exit(main())
