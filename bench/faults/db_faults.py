"""Database faults against a real `fsapp serve` and the fake FreeSWITCH (issue 14):

* an admin flood of 100 fresh logged-in connections: admission p99 during it vs a quiet run,
  once with the admin in the call process (`fsapp serve`) and once in a web worker of its own
  (`fsapp serve --workers 1 --web-process`);
* SQLite's write lock held by another process for 35 s (quick: 4 s);
* PostgreSQL stopped, restarted and frozen, through a loopback proxy in front of 127.0.0.1:5432
  (the shared server itself is never touched; the app is pointed at the proxy).

Each row: tries, calls placed/charged/refused, the slowest refusal (socket connect to the end of
the call), the admission deadline and the slowest /healthz answer while the fault lasted.

``run(options)`` runs the scenarios in a child process (``python -m bench.faults.db_faults``),
which patches the process for gevent first, and returns its rows.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench.faults import FaultRow

DEADLINE_S = 2.0
PG_ADMIN_URL = os.environ.get("FSAPP_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "fault matrix password"


def run(options) -> list[FaultRow]:
    with tempfile.TemporaryDirectory(prefix="fsapp-db-faults-") as out:
        path = Path(out) / "rows.json"
        command = [sys.executable, "-m", "bench.faults.db_faults", "--json", str(path)]
        if getattr(options, "quick", False):
            command.append("--quick")
        subprocess.run(command, check=True, timeout=1800)
        return [FaultRow(**row) for row in json.loads(path.read_text())]


# ------------------------------------------------------------------------------------------------
# The child process (gevent).


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class App:
    """A provisioned database, `fsapp serve` on it and a fake FreeSWITCH calling it."""

    def __init__(self, root: Path, *, database_url: str = "", serve_url: str = "", seats: int = 200,
                 web_process: bool = False):
        import models
        from bench.call_app import provision, write_prompt_dir, TENANT
        from fake_switch import FakeFreeSwitch
        from fake_switch.serve_process import ServeProcess
        from models.accounts import users

        self.root = root
        data, prompts = root / "data", root / "prompts"
        write_prompt_dir(str(prompts), TENANT)
        models.open_database(database_url, data, pool_size=2)
        models.migrate()
        provision(seats, 4, seats * 4)
        users.add_user("op", role="operator", password=PASSWORD)
        models.database.close()
        models.db.close_all_pools()
        self.sqlite_path = data / models.db.SQLITE_FILENAME
        env = dict(os.environ, FSAPP_DATA_DIR=str(data), FSAPP_PROMPT_DIR=str(prompts),
                   FSAPP_CALLING_WINDOWS="00:00-24:00", FSAPP_DATABASE_URL=serve_url or database_url,
                   FSAPP_NODE_NAME="faults", FSAPP_ADMISSION_DEADLINE_S=str(DEADLINE_S))
        if web_process:
            self.serve = ServeProcess(env, "--workers", "1", "--web-process").wait_serving(workers=1)
            self.serve.wait_for("fsapp web worker serving")
        else:
            self.serve = ServeProcess(env).wait_serving()
        self.fake = FakeFreeSwitch("127.0.0.1", self.serve.esl_port, time_scale=0.01)
        self.fake.hold_scheduler()
        self.next_seat = 0
        self.calls = []
        self.ended_at: dict[int, float] = {}  # id(call) -> when its last leg ended

    def close(self) -> None:
        self.fake.close()
        self.serve.stop()

    def place(self):
        """One outbound call from the next seat to the next callee; the callee declines recording,
        talks a moment and hangs up."""
        import gevent

        from bench.call_app import SEAT_DOMAIN, callee_dialled, seat_user
        from fake_switch import LegScript, Press

        i = self.next_seat
        self.next_seat += 1
        user, dialled = seat_user(i % 200), callee_dialled(i)
        talk = LegScript(presses=[Press("2")], hangup_after=20, hangup_relative_to="bridge")
        call = self.fake.place_call(dialled, caller=user, variables={"fsapp_direction": "outbound",
                                                                      "fsapp_campaign": ""},
                                    sip_auth_username=user, sip_auth_realm=SEAT_DOMAIN,
                                    callee_scripts={f"+86{dialled}": talk})
        self.calls.append(call)
        gevent.spawn(self._note_end, call)
        return call

    def _note_end(self, call) -> None:
        import time

        if call.wait_ended(300):
            self.ended_at[id(call)] = time.monotonic()


class HealthWatch:
    """/healthz on a fresh connection every 50 ms from an OS thread of its own (so the bench's
    own gevent loop, busy with the fake FreeSWITCH and the flood's clients, is not measured);
    the slowest answer in ms."""

    def __init__(self, port: int):
        from gevent import monkey

        self.port, self.max_ms, self.failures = port, 0.0, 0
        self._stop = monkey.get_original("threading", "Event")()
        self._thread = monkey.get_original("threading", "Thread")(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        from gevent import monkey

        real_socket = monkey.get_original("socket", "create_connection")
        while not self._stop.wait(0.05):
            started = time.perf_counter()
            try:
                with real_socket(("127.0.0.1", self.port), timeout=10) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n")
                    ok = sock.recv(64).startswith(b"HTTP/1.1 200") or sock.recv(64).startswith(b"HTTP/1.0 200")
            except OSError:
                ok = False
            self.max_ms = max(self.max_ms, (time.perf_counter() - started) * 1000)
            self.failures += not ok

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return round(self.max_ms, 1)


def settle(app: App, calls, timeout: float = 60.0) -> dict:
    """Wait for the calls to end; count refusals (and the slowest), charges and double charges."""
    import gevent

    import models
    from models.calls.tables import CallRecord
    from models.ledger.tables import LedgerEntry

    refusal_s, placed = [], len(calls)
    for call in calls:
        call.wait_ended(timeout)
        gevent.sleep(0)  # the end-noting greenlet runs
        if not call.callee_legs and call.t_connect is not None and id(call) in app.ended_at:
            refusal_s.append(app.ended_at[id(call)] - call.t_connect)
    charged = lost = double = 0
    with models.db.unit_of_work():
        for call in calls:
            if not call.callee_legs:
                continue
            record = CallRecord.get_or_none(CallRecord.agent_uuid == call.a_leg.uuid)
            entries = LedgerEntry.select().where(LedgerEntry.idempotency_key == f"call:{call.callee_legs[0].uuid}").count()
            answered = record is not None and record.answered_at is not None and (record.billsec or 0) > 0
            charged += entries == 1
            lost += answered and entries == 0
            double += entries > 1
    return dict(calls_placed=placed, calls_charged=charged, lost_charges=lost, double_charges=double,
                refusals=len(refusal_s), refusal_max_s=round(max(refusal_s), 3) if refusal_s else None)


def refused_while(app: App, fault: str, tries: int, hold_s: float, start, end) -> FaultRow:
    """Start the fault, place ``tries`` calls spread over ``hold_s`` seconds, end it; the row."""
    import gevent

    watch = HealthWatch(app.serve.http_port)
    start()
    try:
        calls = []
        for _ in range(tries):
            calls.append(app.place())
            gevent.sleep(hold_s / tries)
        for call in calls:
            call.wait_ended(DEADLINE_S + 10)
    finally:
        end()
    healthz = watch.stop()
    counts = settle(app, calls)
    return FaultRow(fault, tries, deadline_s=DEADLINE_S, healthz_max_ms=healthz, **counts)


def admin_flood(root: Path, quick: bool, web_process: bool = False) -> FaultRow:
    import gevent

    app = App(root, web_process=web_process)
    try:
        port = app.serve.http_port
        cookie = login(port)
        samples = 20 if quick else 60

        def admissions() -> list[float]:
            latencies = []
            for _ in range(samples):
                call = app.place()
                call.wait_for("b-leg:bridge", 20)
                latencies.append(call.admission_latency)
                gevent.sleep(0.02)
            return latencies

        quiet = admissions()
        watch = HealthWatch(port)
        statuses = []
        flood = [gevent.spawn(lambda: statuses.append(fresh_get(port, "/calls", cookie))) for _ in range(100)]
        during = admissions()
        gevent.joinall(flood, timeout=120)
        healthz = watch.stop()
        counts = settle(app, app.calls)
        ratio = percentile(during, 0.99) / percentile(quiet, 0.99)
        name = "admin flood, --web-process" if web_process else "admin flood"
        row = FaultRow(f"{name}: 100 fresh logged-in connections", 100, deadline_s=DEADLINE_S,
                       healthz_max_ms=healthz, **counts)
        row.notes.append(f"admission p99 {percentile(during, 0.99) * 1000:.1f} ms during the flood vs "
                         f"{percentile(quiet, 0.99) * 1000:.1f} ms quiet: ratio {ratio:.2f} (bar 1.5); "
                         f"admin answers {sorted(set(statuses))}")
        row.notes.append(f"flood_ratio={ratio:.3f}")
        return row
    finally:
        app.close()


def login(port: int, username: str = "op", password: str = PASSWORD) -> str:
    """The session cookie of a login through the admin's form (CSRF token included)."""
    import re

    _, headers, page = request(port, "GET", "/login")
    cookie = headers.get("Set-Cookie", "").split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    _, answer, _ = request(port, "POST", "/login", cookie=cookie,
                           form={"username": username, "password": password, "csrf_token": token})
    return (answer.get("Set-Cookie") or cookie).split(";", 1)[0]


def fresh_get(port: int, path: str, cookie: str) -> int:
    return request(port, "GET", path, cookie=cookie)[0]


def request(port: int, method: str, path: str, *, cookie: str = "", form: dict | None = None):
    """(status, headers, body) of one request on a new TCP connection."""
    from fake_switch.http_client import request as http_request

    return http_request("127.0.0.1", port, method, path, cookie=cookie, form=form, timeout=60)


def sqlite_locked(root: Path, quick: bool, web_process: bool = False) -> FaultRow:
    import sqlite3

    hold_s = 4.0 if quick else 35.0
    app = App(root, web_process=web_process)
    lock = sqlite3.connect(str(app.sqlite_path), isolation_level=None, check_same_thread=False)
    fault = f"SQLite write lock held {hold_s:g} s by another process" + (", --web-process" if web_process else "")
    try:
        return refused_while(app, fault, 3 if quick else 6,
                             hold_s, lambda: lock.execute("BEGIN IMMEDIATE"), lambda: lock.execute("ROLLBACK"))
    finally:
        lock.close()
        app.close()


def postgres_rows(root: Path, quick: bool) -> list[FaultRow]:
    import urllib.parse

    import psycopg2

    from bench.faults.tcp_proxy import TcpProxy

    admin_params = urllib.parse.urlsplit(PG_ADMIN_URL)
    try:
        admin = psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        row = FaultRow("PostgreSQL faults", 0)
        row.notes.append(f"not run: PostgreSQL at {PG_ADMIN_URL} unreachable ({exc})")
        return [row]
    admin.autocommit = True
    name = f"fsapp_faults_{os.getpid()}"
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    url = urllib.parse.urlunsplit(admin_params._replace(path=f"/{name}"))
    proxy = TcpProxy((admin_params.hostname or "127.0.0.1", admin_params.port or 5432)).start()
    app = App(root, database_url=url, serve_url=proxy.url_for(url))
    tries = 3 if quick else 6
    hold_s = 4.0 if quick else 30.0
    try:
        rows = [refused_while(app, f"PostgreSQL stopped {hold_s:g} s", tries, hold_s, proxy.stop, proxy.start)]
        restarted = refused_while(app, "PostgreSQL restarted (calls after the restart)", tries, 1.0,
                                  lambda: (proxy.stop(), proxy.start()), lambda: None)
        restarted.notes.append(f"{restarted.calls_charged} of {tries} calls after the restart charged")
        rows.append(restarted)
        rows.append(refused_while(app, f"PostgreSQL frozen {hold_s:g} s", tries, hold_s, proxy.freeze, proxy.thaw))
        return rows
    finally:
        app.close()
        proxy.stop()
        cursor = admin.cursor()
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench.faults.db_faults")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", required=True)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="fsapp-db-faults-") as tmp:
        root = Path(tmp)
        rows.append(admin_flood(root / "flood", args.quick))
        rows.append(admin_flood(root / "flood-web-process", args.quick, web_process=True))
        rows.append(sqlite_locked(root / "sqlite", args.quick))
        rows.append(sqlite_locked(root / "sqlite-web-process", args.quick, web_process=True))
        rows.extend(postgres_rows(root / "pg", args.quick))
    Path(args.json).write_text(json.dumps([asdict(row) for row in rows]))
    return 0


if __name__ == "__main__":
    from gevent import monkey

    monkey.patch_all()
    import psycogreen.gevent

    psycogreen.gevent.patch_psycopg()
    raise SystemExit(main())
