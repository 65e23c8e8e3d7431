"""Several OS processes admit calls of the same tenants at the same instant, against one
PostgreSQL database or one SQLite file: the seat, tenant, number, balance and frequency limits are
never exceeded together, whatever the interleaving."""
import json
import multiprocessing
import time
from datetime import timedelta

import pytest

import models
from models import Attempt, CallRecord, Consent, Hold, NumberLease, Seat, Tenant
from models.ledger import topups
from models.seats import number_leases
from models.seats import seats as seat_models
from models.tenancy import campaigns
from models.tenancy import tenants

import admission_hammer
from policy_world import NOW

WORKERS = 4
ITERATIONS = 70
CALLEES = [f"+86139123{i:05d}" for i in range(1, 121)]  # 江苏省常州市 mobile numbers
NUMBERS = {"seatco": ["+862512340001", "+862512340002"], "numco": ["+862512340003"],
           "cashco": ["+862512340004", "+862512340005", "+862512340006"],
           "busyco": ["+862512340007", "+862512340008"]}  # 南京 (江苏省)


def provision():
    worlds = [  # (code, seats purchased, seat users, balance, number max_calls)
        ("seatco", 2, 2, 1_000_000, 2),  # tenant concurrency binds: SEAT_LIMIT
        ("numco", 3, 3, 1_000_000, 1),  # one number carrying one call binds: NUMBER_BUSY
        ("cashco", 3, 3, 20, 1),  # two minimum charges of 10 fen: INSUFFICIENT_BALANCE
        ("busyco", 3, 1, 1_000_000, 2),  # one seat carrying two calls: SEAT_BUSY
    ]
    seats = []
    for code, purchased, users, balance, max_calls in worlds:
        tenants.add_tenant(code, name=code, display_name=code, hotline="4001234567", seats=purchased, rate=10)
        tenants.set_tenant(code, status="active")
        topups.topup(code, balance)
        for number in NUMBERS[code]:
            number_leases.lease_number(code, number, max_calls=max_calls)
        campaigns.add_campaign(code, "main", script="回访")
        campaigns.review_campaign(code, "main", approve=True, actor="operator")
        for user in range(users):
            address = f"{user}@{code}.example"
            seat_models.add_seat(code, address, campaign="main")
            seats.append(address)
        tenant = Tenant.get(Tenant.code == code)
        Consent.insert_many([dict(tenant=tenant.id, number=n, source="test", obtained_at=NOW - timedelta(days=1))
                             for n in CALLEES]).execute()
    Seat.update(valid_from=NOW - timedelta(days=1), valid_to=NOW + timedelta(days=29)).execute()
    NumberLease.update(paid_through=NOW + timedelta(days=29)).execute()
    return seats


def _wait_for_files(paths, processes, timeout):
    """Each process writes its result file last. Waiting for the files, not for process exit:
    under the session's gevent patching (and its child watcher, once another test started one)
    the parent may never observe a child's exit status."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in processes):
            break  # a worker crashed: fail now with its exit code
        time.sleep(0.05)


def _reap(processes):
    for process in processes:
        process.join(1)
        if process.is_alive():
            process.kill()


@pytest.mark.slow
def test_processes_never_exceed_limits_together(db, request, tmp_path):
    seats = provision()
    url = getattr(request.node, "database_url", "")
    data_dir = str(tmp_path)
    models.database.close()
    ctx = multiprocessing.get_context("spawn")
    processes = [ctx.Process(target=admission_hammer.work,
                             args=(i, url, data_dir, NOW.isoformat(), seats, CALLEES, ITERATIONS, 1000 + i))
                 for i in range(WORKERS)]
    watcher = ctx.Process(target=admission_hammer.watch, args=(url, data_dir, NOW.isoformat(), 2))
    for process in processes + [watcher]:
        process.start()
    # start line: every process set up, the watcher sampling, then the workers go (admission_hammer)
    _wait_for_files([tmp_path / f"ready-{i}" for i in range(WORKERS)] + [tmp_path / "ready-watch"],
                    processes + [watcher], 90)
    (tmp_path / "watch").write_text("")
    _wait_for_files([tmp_path / "watching"], [watcher], 90)
    (tmp_path / "go").write_text("")
    results_files = [tmp_path / f"result-{i}.json" for i in range(WORKERS)]
    _wait_for_files(results_files, processes, 90)
    _wait_for_files([tmp_path / "sampled"], [watcher], 90)
    (tmp_path / "done").write_text("")
    _wait_for_files([tmp_path / "result-watch.json"], [watcher], 30)
    _reap(processes + [watcher])
    assert [p.exitcode for p in processes + [watcher] if p.exitcode not in (None, 0)] == []
    assert all(p.exists() for p in results_files + [tmp_path / "result-watch.json"])

    results = [json.loads((tmp_path / f"result-{i}.json").read_text()) for i in range(WORKERS)]
    watched = json.loads((tmp_path / "result-watch.json").read_text())
    assert all(r["violations"] == [] for r in results) and watched["violations"] == []
    assert watched["checks"] > 10 and sum(r["checks"] for r in results) > 10, results
    codes = {}
    for r in results:
        for code, n in r["codes"].items():
            codes[code] = codes.get(code, 0) + n
    assert sum(codes.get(c, 0) for c in codes if c != "POLICY_UNAVAILABLE") >= WORKERS * ITERATIONS
    assert "POLICY_UNAVAILABLE" not in codes, codes
    print(f"{db}: {codes}; worker seconds {[round(r['seconds'], 2) for r in results]}")
    # every limit was actually reached, so the test proves something
    for code in ("ALLOWED", "SEAT_BUSY", "SEAT_LIMIT", "NUMBER_BUSY", "INSUFFICIENT_BALANCE", "FREQUENCY_LIMIT"):
        assert codes.get(code), (code, codes)

    # the end state, after the fact: nothing over any limit, attempts only for admitted calls
    assert admission_hammer.violations(NOW, 2) == []
    per_tenant_callee, per_callee = {}, {}
    for tenant_id, callee in Attempt.select(Attempt.tenant, Attempt.callee_number).tuples():
        per_tenant_callee[(tenant_id, callee)] = per_tenant_callee.get((tenant_id, callee), 0) + 1
        per_callee[callee] = per_callee.get(callee, 0) + 1
    assert max(per_tenant_callee.values()) <= 2  # per tenant per callee per day
    assert max(per_callee.values()) <= 3  # across tenants in 5 minutes (all at the same instant)
    allowed = CallRecord.select().where(CallRecord.decision == "allowed").count()
    assert allowed == Attempt.select().count() == Hold.select().count() == codes["ALLOWED"]
    assert CallRecord.select().count() == WORKERS * ITERATIONS
