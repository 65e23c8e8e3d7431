"""Two OS processes at once: charging one tenant's calls (each call reported by both, in opposite
orders), and `fsapp jobs run` on every node at the same time. Exactly once, and the ledger holds."""
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta

from models import LedgerEntry, NumberLease, Seat
from models.seats import number_leases
from models.seats import seats
from models.ledger.posting import verify_tenant_ledger
from domain.rating import call_charge

from fake_switch.cdrs import REPO
from .conftest import admit, fresh, make_tenant

CALLS = 120


def spawn(argv, env=None):
    return subprocess.Popen(argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)


def run_together(workers) -> list[tuple[str, str]]:
    """Start line: every worker has set up (printed ``ready``) before any is told ``go``; then
    their (stdout, stderr)."""
    for worker in workers:
        line = worker.stdout.readline()
        assert line == "ready\n", (line, worker.communicate(timeout=60))
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return [worker.communicate(timeout=60) for worker in workers]


def test_two_processes_charging_one_tenant(db, request, tmp_path):
    tenant = make_tenant("race", rate=12, balance=1_000_000, promo=500)
    uuids = []
    for _ in range(CALLS):
        record, _ = admit(tenant, hold_fen=12)
        uuids.append(record.callee_uuid)
    url = getattr(request.node, "database_url", "")
    workers = [spawn([sys.executable, "-m", "tests.metering.charge_worker", "charge", url, str(tmp_path), *order])
               for order in (uuids, list(reversed(uuids)))]
    outputs = run_together(workers)
    assert [w.returncode for w in workers] == [0, 0], outputs
    posted = sum(int(out.strip()) for out, _ in outputs)
    assert posted == CALLS  # each call charged by exactly one of the two
    entries = list(LedgerEntry.select().where(LedgerEntry.kind == "call"))
    assert len(entries) == CALLS and len({e.idempotency_key for e in entries}) == CALLS
    expected = sum(call_charge(30 + (sum(map(ord, u)) % 100), 12) for u in uuids)
    tenant = fresh(tenant)
    assert tenant.balance_fen == 1_000_500 - expected
    assert sum(-e.promo_fen for e in entries) == 500  # promotional credit spent first, exactly once
    assert verify_tenant_ledger(tenant) == []


def test_jobs_run_on_two_nodes_at_once(db, env, tmp_path):
    at = datetime(2027, 1, 31, 9, 0)
    due = datetime(2027, 1, 31, 10, 0)
    tenants = [make_tenant(f"t{i}", seat_rent=100, seats=40, balance=100 * 40 + (0 if i == 2 else 10_000))
               for i in range(3)]
    for i, tenant in enumerate(tenants):
        for n in range(30):
            seats.add_seat(tenant.code, f"{n}@t{i}.example")
        number_leases.lease_number(tenant.code, f"+8620123456{70 + i}", monthly_fee=500)
    Seat.update(valid_to=due).execute()
    NumberLease.update(paid_through=due).execute()
    # tenant t2 has 500 fen left after buying its seats and its number: it can renew 5 seats
    # (seats are renewed before numbers), then nothing
    cmd = [sys.executable, "-m", "tests.metering.charge_worker", "jobs", at.isoformat() + "Z"]
    child_env = {**os.environ, **env}
    workers = [spawn(cmd, env=child_env) for _ in range(2)]
    outputs = run_together(workers)
    assert [w.returncode for w in workers] == [0, 0], outputs
    # between them the two runs renewed each seat and number once
    counts = [re.search(r"rents: (\d+) seat\(s\) and (\d+) number", out).groups() for out, _ in outputs]
    assert [sum(int(c[i]) for c in counts) for i in (0, 1)] == [65, 2], outputs
    renewed = {t.code: Seat.select().where((Seat.tenant == t.id) & (Seat.valid_to == due + timedelta(days=30))).count()
               for t in tenants}
    assert renewed == {"t0": 30, "t1": 30, "t2": 5}
    rents = list(LedgerEntry.select().where(LedgerEntry.kind.in_(("seat_rent", "number_rent"))
                                            & (LedgerEntry.created_at == at)))
    assert len(rents) == len({e.idempotency_key for e in rents}) == 30 + 30 + 5 + 2
    for tenant in tenants:
        assert verify_tenant_ledger(fresh(tenant)) == []
    assert fresh(tenants[2]).balance_fen == 0
    assert NumberLease.select().where(NumberLease.paid_through > due).count() == 2
