"""Data for the admission benchmark: 10k tenants, 100k consent records, 1M call records.

Rows are written in bulk (``insert_many`` in chunks inside one transaction; COPY on PostgreSQL
for the big tables). Every time is relative to ``NOW`` (a Monday, 10:00 in Shanghai), so the
benchmark's calls are inside calling hours whenever it runs.
"""
from __future__ import annotations

import csv
import io
import random
from datetime import datetime, timedelta

import models
from models.calls.attempts import rebuild_lease_use
from models.sql_statements import column_values
from models import (
    Attempt, CallRecord, Campaign, Consent, DoNotCall, Hold, NumberLease, Seat, Tenant,
)

NOW = datetime(2026, 11, 23, 2, 0, 0)
SCALE = {"tenants": 10_000, "consents": 100_000, "calls": 1_000_000, "attempts": 300_000, "holds": 300_000,
         "dnc": 20_000}
VERSION = "admission-bench-2 " + " ".join(f"{k}={v}" for k, v in sorted(SCALE.items()))
SEATS_PER_TENANT = 2
CALLEE_POOL = 50_000


def callee_pool() -> list[str]:
    return [f"+86139{10_000_000 + i * 17:08d}" for i in range(CALLEE_POOL)]


def _full_rows(model, rows):
    """Complete rows (every column, Python-side defaults applied) as database values, in column order."""
    fields = [f for f in model._meta.sorted_fields if f.name != "id"]
    return fields, [column_values(fields, row) for row in rows]


def bulk_insert(model, rows) -> None:
    fields, values = _full_rows(model, rows)
    if models.is_postgres():
        _copy(model, fields, values)
        return
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    marks = ", ".join("?" * len(fields))
    models.database.connection().executemany(
        f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})', values)


def _copy(model, fields, values) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in values:
        writer.writerow(["\\N" if v is None else (("t" if v else "f") if isinstance(v, bool) else v) for v in row])
    buffer.seek(0)
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    cursor = models.database.connection().cursor()
    cursor.copy_expert(f'COPY "{model._meta.table_name}" ({columns}) FROM STDIN WITH (FORMAT csv, NULL \'\\N\')', buffer)


def generate(seed: int = 7, progress=print) -> dict:
    """Fill an empty, migrated database. Returns {tenant_id: [(seat address, [consented callees])]}."""
    rnd = random.Random(seed)
    pool = callee_pool()
    n_tenants = SCALE["tenants"]
    with models.database.atomic():
        bulk_insert(Tenant, [dict(code=f"t{i:05d}", name=f"Tenant {i}", display_name=f"T{i}", hotline="+864001234567",
                                  status="active", seats_purchased=5, rate_out_fen=10, billing_increment_s=60,
                                  balance_fen=10_000_000, created_at=NOW - timedelta(days=90),
                                  status_changed_at=NOW - timedelta(days=90)) for i in range(n_tenants)])
        tenant_ids = [row[0] for row in Tenant.select(Tenant.id).order_by(Tenant.id).tuples()]
        progress(f"  tenants {len(tenant_ids)}")
        bulk_insert(Campaign, [dict(tenant=t, code="main", name="main", script="回访", status="approved",
                                    screening_hits={}, created_at=NOW, updated_at=NOW) for t in tenant_ids])
        campaigns = dict(Campaign.select(Campaign.tenant, Campaign.id).tuples())
        leases = []
        for i, t in enumerate(tenant_ids):
            leases.append(dict(number=f"+8610{60_000_000 + i:08d}", tenant=t, province="北京市", city="北京市",
                               leased_at=NOW - timedelta(days=20), paid_through=NOW + timedelta(days=10), max_calls=2))
            leases.append(dict(number=f"+8621{60_000_000 + i:08d}", tenant=t, province="上海市", city="上海市",
                               leased_at=NOW - timedelta(days=20), paid_through=NOW + timedelta(days=10), max_calls=2))
        bulk_insert(NumberLease, leases)
        lease_ids = {}
        for lease_id, tenant_id in NumberLease.select(NumberLease.id, NumberLease.tenant).tuples():
            lease_ids.setdefault(tenant_id, []).append(lease_id)
        bulk_insert(Seat, [dict(tenant=t, sip_user=f"{s}", sip_domain=f"t{i:05d}.example", role="agent",
                                valid_from=NOW - timedelta(days=20), valid_to=NOW + timedelta(days=10),
                                default_campaign=campaigns[t], created_at=NOW - timedelta(days=20))
                           for i, t in enumerate(tenant_ids) for s in range(1001, 1001 + SEATS_PER_TENANT)])
        progress("  seats, leases, campaigns")

        per_tenant = SCALE["consents"] // n_tenants
        consented = {t: rnd.sample(pool, per_tenant) for t in tenant_ids}
        bulk_insert(Consent, [dict(tenant=t, number=n, source="bench", obtained_at=NOW - timedelta(days=40),
                                   created_at=NOW - timedelta(days=40)) for t in tenant_ids for n in consented[t]])
        progress(f"  consents {SCALE['consents']}")
        dnc = [dict(scope="platform", number=rnd.choice(pool), created_at=NOW - timedelta(days=5))
               for _ in range(SCALE["dnc"] // 2)]
        dnc += [dict(scope="tenant", tenant=rnd.choice(tenant_ids), number=rnd.choice(pool),
                     created_at=NOW - timedelta(days=5)) for _ in range(SCALE["dnc"] // 2)]
        bulk_insert(DoNotCall, dnc)

        calls = []
        for i in range(SCALE["calls"]):
            t = rnd.choice(tenant_ids)
            at = NOW - timedelta(seconds=rnd.randrange(60 * 86400))
            allowed = rnd.random() < 0.7
            calls.append(dict(agent_uuid=f"gen-{i}", callee_uuid=f"gen-callee-{i}" if allowed else None, tenant=t,
                              seat_address="1001@bench", campaign=campaigns[t], caller_number="+861060000000",
                              callee_number=rnd.choice(pool), decision="allowed" if allowed else "blocked",
                              reasons=[] if allowed else ["NO_CONSENT"], result="completed" if allowed else "blocked",
                              created_at=at, answered_at=at + timedelta(seconds=5) if allowed else None,
                              ended_at=at + timedelta(seconds=65) if allowed else None, billsec=60 if allowed else 0))
            if len(calls) == 100_000:
                bulk_insert(CallRecord, calls)
                calls = []
                progress(f"  call records {i + 1}")
        bulk_insert(CallRecord, calls)

        attempts = []
        for i in range(SCALE["attempts"]):
            t = rnd.choice(tenant_ids)
            attempts.append(dict(call_uuid=f"gen-a-{i}", tenant=t, callee_number=rnd.choice(pool),
                                 caller_lease=rnd.choice(lease_ids[t]), at=NOW - timedelta(seconds=rnd.randrange(30 * 86400))))
        bulk_insert(Attempt, attempts)
        rebuild_lease_use(NOW)  # the per-number daily counters admission reads (A10)
        progress(f"  attempts {SCALE['attempts']}")
        holds = []
        for i in range(SCALE["holds"]):
            t = rnd.choice(tenant_ids)
            start = NOW - timedelta(seconds=rnd.randrange(30 * 86400))
            holds.append(dict(call_uuid=f"gen-h-{i}", tenant=t, number=rnd.choice(lease_ids[t]), callee_number=rnd.choice(pool),
                              amount_fen=10, created_at=start, expires_at=start + timedelta(seconds=90),
                              released_at=start + timedelta(seconds=70)))
        bulk_insert(Hold, holds)
        progress(f"  holds {SCALE['holds']} (released)")
    return {t: consented[t] for t in tenant_ids}


def workload(consented: dict, count: int, seed: int = 11) -> list[tuple[str, str]]:
    """(seat address, callee) pairs of distinct tenants and consented callees."""
    rnd = random.Random(seed)
    tenant_ids = sorted(consented)
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    picks = []
    for t in rnd.sample(tenant_ids, min(count, len(tenant_ids))):
        picks.append((f"1001@{codes[t]}.example", rnd.choice(consented[t])))
    return picks


def consented_from_db() -> dict:
    result: dict = {}
    for tenant_id, number in Consent.select(Consent.tenant, Consent.number).tuples():
        result.setdefault(tenant_id, []).append(number)
    return result
