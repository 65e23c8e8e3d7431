"""Worker processes for the concurrency test: each opens the database itself (no shared memory,
like two app processes on two FreeSWITCH nodes) and admits calls as fast as it can.

The processes talk to the test through files in the data directory: each writes ``ready-<id>``
once set up; the watcher starts sampling on ``watch`` and writes ``watching`` after its first
sample and ``sampled`` once it has sampled more than ten times; the workers start on ``go``; the
watcher stops on ``done``. So every worker overlaps the watcher, however slowly each started."""
from __future__ import annotations

import json
import random
import time
from datetime import datetime
from pathlib import Path

# Every limit binds in this test: per-seat 2, no minimum gap (so the daily and cross-tenant caps
# are the frequency limits that bind at a single instant).
ENV = {"FSAPP_SEAT_MAX_CALLS": "2", "FSAPP_FREQ_TENANT_MIN_GAP_MINUTES": "0"}
#: the watcher's samples that make the test worth something (the test asserts more than ten)
SAMPLES_ENOUGH = 11


def violations(now: datetime, seat_max: int) -> list[tuple]:
    """Limits exceeded in one consistent snapshot (a single statement)."""
    import models

    param = "%s" if models.is_postgres() else "?"
    live = f"h.released_at IS NULL AND h.expires_at > {param}"
    sql = f"""
        SELECT 'seat', h.seat_id, COUNT(*) FROM hold h WHERE {live} AND h.seat_id IS NOT NULL
        GROUP BY h.seat_id HAVING COUNT(*) > {param}
        UNION ALL
        SELECT 'number', h.number_id, COUNT(*) FROM hold h JOIN number_lease l ON l.id = h.number_id WHERE {live}
        GROUP BY h.number_id, l.max_calls HAVING COUNT(*) > l.max_calls
        UNION ALL
        SELECT 'tenant', h.tenant_id, COUNT(*) FROM hold h JOIN tenant t ON t.id = h.tenant_id
        WHERE {live} AND h.direction = 'outbound' GROUP BY h.tenant_id, t.seats_purchased HAVING COUNT(*) > t.seats_purchased
        UNION ALL
        SELECT 'balance', h.tenant_id, SUM(h.amount_fen) FROM hold h JOIN tenant t ON t.id = h.tenant_id
        WHERE {live} GROUP BY h.tenant_id, t.balance_fen HAVING SUM(h.amount_fen) > t.balance_fen
    """
    stamp = models.Hold.expires_at.db_value(now)
    return [tuple(row) for row in models.database.execute_sql(sql, (stamp, seat_max, stamp, stamp, stamp))]


def _wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(path)
        time.sleep(0.005)


def work(worker_id: int, url: str, data_dir: str, now_iso: str, seats: list[str], callees: list[str],
         iterations: int, seed: int) -> None:
    import models
    from fs_app.admission import admit, release
    from fs_app.config import load_settings
    from fs_app.policy import CallRequest

    settings = load_settings({**ENV, "FSAPP_DATA_DIR": data_dir, "FSAPP_DATABASE_URL": url})
    models.open_database(url, data_dir, pool_size=2)
    now = datetime.fromisoformat(now_iso)
    rnd = random.Random(seed)
    codes: dict[str, int] = {}
    found: list = []
    checks = 0
    directory = Path(data_dir)
    (directory / f"ready-{worker_id}").write_text("")
    _wait_for(directory / "go")
    started = time.perf_counter()
    for i in range(iterations):
        uuid = f"w{worker_id}-{i}"
        admission = admit(CallRequest(call_uuid=uuid, dialled=rnd.choice(callees), seat_address=rnd.choice(seats)),
                          now, settings, node=f"worker-{worker_id}",
                          timeout_s=60)  # limits under contention are the subject, not the deadline
        for code in admission.codes or ("ALLOWED",):
            codes[code] = codes.get(code, 0) + 1
        if admission.allowed:
            found += violations(now, settings.seat_max_calls)  # while this call is live
            checks += 1
            time.sleep(rnd.uniform(0.002, 0.02))
            if rnd.random() < 0.95:  # a few calls stay up to the end, so limits stay reached
                release(uuid, now)
    elapsed = time.perf_counter() - started
    models.database.close()
    (directory / f"result-{worker_id}.json").write_text(json.dumps({"codes": codes, "violations": found,
                                                                     "checks": checks, "seconds": elapsed}))


def watch(url: str, data_dir: str, now_iso: str, seat_max: int) -> None:
    """Samples the invariants until the workers are done."""
    import models

    models.open_database(url, data_dir, pool_size=1)
    now = datetime.fromisoformat(now_iso)
    directory = Path(data_dir)
    (directory / "ready-watch").write_text("")
    _wait_for(directory / "watch")
    found, checks = [], 0
    while not (directory / "done").exists():
        found += violations(now, seat_max)
        checks += 1
        if checks == 1:
            (directory / "watching").write_text("")
        elif checks == SAMPLES_ENOUGH:
            (directory / "sampled").write_text("")
        time.sleep(0.002)
    models.database.close()
    (directory / "result-watch.json").write_text(json.dumps({"violations": found, "checks": checks}))
