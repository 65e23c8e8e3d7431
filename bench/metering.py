"""Metering benchmark on SQLite: CDR ingest in records/s and the charge at hangup in ms.

    .venv/bin/python bench/metering.py [--calls 5000] [--charges 3000] [--pg URL]

CDR ingest is measured from files on disk to committed rows (parsing included), in the three
situations reconciliation meets:
  confirm  - the app charged every call already; the CDRs only confirm (the normal case)
  recover  - the app crashed after admission: records exist, nothing charged
  unknown  - no record at all: the tenant is found by the leased caller ID
The charge at hangup is ``Meter.hangup`` for an admitted, answered call with a live hold: one
transaction (tenant lock, record, ledger post, record update, hold), timed call by call.
Targets: ingest >= 5,000 records/s; hangup charge p99 <= 5 ms.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import models  # noqa: E402
from fs_app import cdr  # noqa: E402
from fs_app.config import load_settings  # noqa: E402
from fs_app.metering import Meter, event_time  # noqa: E402
from models import CallRecord, Hold, NumberLease  # noqa: E402
from models.ledger import posting, topups  # noqa: E402
from models.seats import number_leases  # noqa: E402
from models.tenancy import tenants  # noqa: E402
from domain.clock import utcnow  # noqa: E402
from bench.stats import percentile  # noqa: E402
from fake_switch.cdrs import callee_leg, write  # noqa: E402

LEASED = "+862012345678"
T0_US = 1_795_400_000_000_000


def fresh_database(url: str, directory: Path):
    models.open_database(url, directory, pool_size=4)
    models.migrate()
    if url:
        tables = ", ".join(f'"{m._meta.table_name}"' for m in models.ALL_MODELS)
        models.database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    tenants.add_tenant("bench", name="bench", display_name="bench", hotline="4008123456", seats=10, rate=12)
    tenants.set_tenant("bench", status="active")
    topups.topup("bench", 100_000_000)
    number_leases.lease_number("bench", LEASED)
    NumberLease.update(leased_at=datetime(2026, 1, 1)).execute()
    return models.Tenant.get(models.Tenant.code == "bench")


def admit_many(tenant, count: int, at: datetime) -> list[tuple[str, str]]:
    """Admission's rows for ``count`` calls, written in bulk (setup, not measured)."""
    calls = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(count)]
    with models.database.atomic():
        for start in range(0, count, 500):
            chunk = calls[start:start + 500]
            CallRecord.insert_many([dict(direction="outbound", agent_uuid=a, callee_uuid=b, tenant=tenant.id,
                                         caller_number=LEASED, callee_number="+8613800138000",
                                         dialled="13800138000", decision="allowed", result="admitted",
                                         created_at=at) for a, b in chunk]).execute()
            Hold.insert_many([dict(call_uuid=a, tenant=tenant.id, direction="outbound", amount_fen=12,
                                   expires_at=at + timedelta(hours=1), created_at=at) for a, _ in chunk]).execute()
    return calls


def write_cdrs(directory: Path, calls: list[tuple[str, str]]) -> None:
    directory.mkdir(parents=True)
    for index, (agent, callee) in enumerate(calls):
        talk_us = (index % 180) * 1_000_000 + 250_000
        write(directory, callee_leg(callee, parent=agent, caller=LEASED, destination="13800138000",
                                    start_us=T0_US, answer_us=T0_US + 1_000_000,
                                    end_us=T0_US + 1_000_000 + talk_us))


def bench_ingest(url: str, workdir: Path, calls_count: int, scenario: str) -> float:
    directory = workdir / scenario
    directory.mkdir()
    tenant = fresh_database(url, directory)
    at = event_time(T0_US)
    if scenario == "unknown":
        calls = [(str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(calls_count)]
    else:
        calls = admit_many(tenant, calls_count, at)
    if scenario == "confirm":
        meter = Meter(load_settings({}))
        for index, (agent, callee) in enumerate(calls):
            answered = event_time(T0_US + 1_000_000)
            meter.hangup(callee_uuid=callee, agent_uuid=agent, answered_at=answered,
                         ended_at=answered + timedelta(microseconds=(index % 180) * 1_000_000 + 250_000))
    write_cdrs(directory / "cdr", calls)
    report = cdr.ingest([directory / "cdr"])
    assert not report.bad, report.bad[:3]
    expected = {"confirm": ("confirmed", calls_count), "recover": ("charged", calls_count),
                "unknown": ("charged", calls_count)}[scenario]
    assert getattr(report, expected[0]) == expected[1], report.summary()
    assert posting.verify_tenant_ledger(models.Tenant.get_by_id(tenant.id)) == []
    return calls_count / report.seconds


def bench_hangup(url: str, workdir: Path, count: int) -> list[float]:
    directory = workdir / "hangup"
    directory.mkdir()
    tenant = fresh_database(url, directory)
    now = utcnow()
    calls = admit_many(tenant, count, now)
    meter = Meter(load_settings({}))
    timings = []
    for index, (agent, callee) in enumerate(calls):
        answered = now - timedelta(seconds=(index % 300) + 1)
        began = time.perf_counter()
        meter.hangup(callee_uuid=callee, agent_uuid=agent, answered_at=answered, ended_at=now)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="CDR files per ingest scenario")
    parser.add_argument("--charges", type=int, default=3000, help="hangup charges to time")
    parser.add_argument("--pg", default="", help="also a PostgreSQL URL (optional)")
    args = parser.parse_args(argv)
    backends = [("sqlite", "")] + ([("postgres", args.pg)] if args.pg else [])
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in backends:
            workdir = Path(tmp) / name
            workdir.mkdir()
            for scenario in ("confirm", "recover", "unknown"):
                rate = bench_ingest(url, workdir, args.calls, scenario)
                flag = "" if rate >= 5000 or name != "sqlite" else "  (below the 5,000/s target)"
                ok &= bool(flag == "")
                print(f"{name} cdr ingest {scenario:8s}: {rate:8.0f} records/s over {args.calls} files{flag}")
            timings = bench_hangup(url, workdir, args.charges)
            p50, p95, p99 = (percentile(timings, p) for p in (50, 95, 99))
            flag = "" if p99 <= 5 or name != "sqlite" else "  (above the 5 ms target)"
            ok &= bool(flag == "")
            print(f"{name} hangup charge: p50 {p50:.2f} ms, p95 {p95:.2f} ms, p99 {p99:.2f} ms, "
                  f"max {max(timings):.2f} ms, mean {statistics.mean(timings):.2f} ms over {args.charges}{flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
