"""The scenarios of bench/faults/money_faults.py, run in their own process (gevent patched by the
caller before this module is imported). See that module for what each row means."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import gevent

import models
from bench.faults import FaultRow
from fs_app import cdr
from fake_switch import FakeFreeSwitch, LegScript, Press
from fake_switch.serve_process import FSAPP, ServeProcess
from fake_switch.wire import clock_us
from models import CallRecord, LedgerEntry
from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats as seat_models
from models.tenancy import campaigns
from models.tenancy import tenants
from domain.clock import utcnow
from fake_switch.cdrs import agent_leg, bridged_leg, callee_leg, inbound_leg, write

DOMAIN = "acme.example"
OUT_NUMBER = "+861061234567"  # Beijing: the callees are Beijing mobiles (A10)
IN_NUMBER = "+861061234568"
FIRST_CALLEE = 13800100000
TALK = 40  # the callee talks 0.4 s once bridged (the fake's durations are scaled by 0.01)


class World:
    """A data directory, its SQLite database provisioned, a running `fsapp serve` and a fake FreeSWITCH."""

    def __init__(self, seats: int, callees: int, kill_seats: int = 0):
        self.dir = Path(tempfile.mkdtemp(prefix="fsapp-money-faults-"))
        self.cdr_dir = self.dir / "cdr"
        self.cdr_dir.mkdir()
        models.open_database("", self.dir)
        models.migrate()
        tenants.add_tenant("acme", name="Acme", display_name="Acme", hotline="4001234567",
                                seats=seats + kill_seats,
                                rate=10, inbound_rate=5)
        tenants.set_tenant("acme", status="active")
        topups.topup("acme", 10_000_000)
        number_leases.lease_number("acme", OUT_NUMBER, max_calls=1000)
        campaigns.add_campaign("acme", "spring", script="您好，这里是春季回访。")
        campaigns.review_campaign("acme", "spring", approve=True, actor="operator")
        self.seats = [str(1001 + i) for i in range(seats)]
        # seats for the kill -9 rounds: a killed call keeps its seat until its hold lapses
        self.kill_seats = [str(1001 + seats + i) for i in range(kill_seats)]
        for user in self.seats + self.kill_seats:
            seat_models.add_seat("acme", f"{user}@{DOMAIN}", campaign="spring")
        self.callees = [str(FIRST_CALLEE + i) for i in range(callees)]
        for callee in self.callees:
            list_entries.add_consent("acme", callee, source="web form", obtained_at=utcnow() - timedelta(days=1))
        # inbound calls ring one seat of their own tenant, so outbound calls never compete for it
        tenants.add_tenant("inb", name="Inb", display_name="Inb", hotline="4001234568", seats=1, rate=10,
                                inbound_rate=5)
        tenants.set_tenant("inb", status="active")
        topups.topup("inb", 10_000_000)
        number_leases.lease_number("inb", IN_NUMBER, max_calls=1000)
        seat_models.add_seat("inb", "2001@inb.example")
        self.env = {**os.environ, "FSAPP_DATA_DIR": str(self.dir), "FSAPP_PROMPT_DIR": str(self.dir / "prompts"),
                    "FSAPP_CALLING_WINDOWS": "00:00-24:00", "FSAPP_RECORDING_CONSENT_TIMEOUT_S": "1",
                    "FSAPP_ESL_COMMAND_TIMEOUT_S": "5", "FSAPP_CDR_DIR": str(self.cdr_dir)}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.next_callee = 0
        self.serve = self.fake = None

    def start(self):
        self.serve = ServeProcess(self.env).wait_serving()
        self.fake = FakeFreeSwitch("127.0.0.1", self.serve.esl_port, time_scale=0.01)
        self.fake.hold_scheduler()  # the money limit must not cut a call on a slow machine
        return self

    def stop(self):
        if self.fake is not None:
            self.fake.close()
        if self.serve is not None and self.serve.process.poll() is None:
            self.serve.stop()

    def outbound_on_free_seat(self, busy: dict):
        """An outbound call from the next seat, once that seat's previous call has ended (a seat
        carries one call: A4)."""
        seat = self.seats[self.next_callee % len(self.seats)]
        if seat in busy:
            busy[seat].wait_ended(60)
        busy[seat] = self.outbound(seat)
        return busy[seat]

    def outbound(self, seat: str):
        callee = self.callees[self.next_callee]
        self.next_callee += 1
        script = LegScript(presses=[Press("2")], hangup_after=TALK, hangup_relative_to="bridge")
        return self.fake.place_call(callee, caller=seat, sip_auth_username=seat, sip_auth_realm=DOMAIN,
                                    callee_scripts={f"+86{callee}": script}, variables={"fsapp_direction": "outbound"},
                                    wait_connected=False)

    def inbound(self):
        seat = LegScript(hangup_after=TALK, hangup_relative_to="bridge")
        return self.fake.place_inbound_call(IN_NUMBER, "+8613911112222", variables={"fsapp_direction": "inbound"},
                                            script=LegScript(presses=[Press("2")]), callee_scripts={"2001": seat},
                                            wait_connected=False)

    def healthz_ms(self) -> float:
        began = time.perf_counter()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.serve.http_port}/healthz", timeout=10) as response:
            response.read()
        return (time.perf_counter() - began) * 1000


# --- CDRs from the fake's legs ---------------------------------------------------------------


def _times(leg) -> dict:
    answer = leg.profile_time("Caller-Channel-Answered-Time")
    # a leg whose socket is gone (the app was killed) hangs up without a CHANNEL_HANGUP, so the
    # fake stamps no hangup time: FreeSWITCH's CDR would carry the moment we saw it end
    end = leg.profile_time("Caller-Channel-Hangup-Time") or getattr(leg, "seen_ended_us", 0) or answer
    start = leg.profile_time("Caller-Channel-Created-Time") or answer or end
    return dict(start_us=min(start, answer or start), answer_us=answer, end_us=end)


def outbound_cdrs(call) -> list[dict]:
    """The callee leg's CDR (our originate variables) and the agent leg's."""
    documents = []
    for leg in call.callee_legs:
        documents.append(callee_leg(leg.uuid, parent=leg.variable("fsapp_parent") or call.a_leg.uuid,
                                    caller=leg.variable("origination_caller_id_number") or OUT_NUMBER,
                                    destination=leg.number.removeprefix("+86"), **_times(leg)))
    documents.append(agent_leg(call.a_leg.uuid, agent=call.a_leg.variable("sip_from_user") or "1001",
                               destination=call.a_leg.number, bridged_to=call.callee_legs[0].uuid if call.callee_legs
                               else call.a_leg.uuid, **_times(call.a_leg)))
    return documents


def inbound_cdrs(call) -> list[dict]:
    """The inbound A-leg's CDR and the seat leg's (made by the bridge app: an originator, no fsapp_*)."""
    seat_uuid = call.callee_legs[0].uuid if call.callee_legs else call.a_leg.uuid
    documents = [inbound_leg(call.a_leg.uuid, caller="+8613911112222", destination=IN_NUMBER, bridged_to=seat_uuid,
                             **_times(call.a_leg))]
    for leg in call.callee_legs:
        documents.append(bridged_leg(leg.uuid, originator=call.a_leg.uuid, caller="+8613911112222",
                                     destination="2001", **_times(leg)))
    return documents


def write_all(directory: Path, documents: list[dict], copies: int = 1) -> list[Path]:
    paths = []
    for document in documents:
        path = write(directory, document)
        paths.append(path)
        for copy in range(1, copies):
            duplicate = path.with_name(f"dup{copy}-{path.name}")
            duplicate.write_bytes(path.read_bytes())
            paths.append(duplicate)
    return paths


# --- counting --------------------------------------------------------------------------------


def entries(uuid: str) -> int:
    return LedgerEntry.select().where((LedgerEntry.call_uuid == uuid) & (LedgerEntry.kind == "call")).count()


def count(row: FaultRow, billed_legs: list, other_legs: list) -> FaultRow:
    """Fill charged/lost/double from the ledger: each billed leg answered once -> one entry; any
    entry on another leg of the call, or a phantom charge, is a double."""
    for leg in billed_legs:
        found = entries(leg.uuid)
        answered = bool(leg.profile_time("Caller-Channel-Answered-Time"))
        if found == 1:
            row.calls_charged += 1
        elif found > 1:
            row.double_charges += 1
        elif answered:
            row.lost_charges += 1
    row.double_charges += sum(1 for leg in other_legs if entries(leg.uuid))
    phantoms = cdr.phantom_charges()
    if phantoms:
        row.notes.append(f"phantom charges: {phantoms[:3]}")
    row.double_charges += len(phantoms)
    return row


def callee_of(call):
    return call.callee_legs[0] if call.callee_legs else call.a_leg


def refusals(row: FaultRow, calls) -> FaultRow:
    """Calls that never reached a callee, with the reasons admission recorded."""
    refused = [call for call in calls if not call.callee_legs]
    row.refusals = len(refused)
    if refused:
        reasons = [",".join(r.reasons or [r.result]) for r in CallRecord.select().where(
            CallRecord.agent_uuid.in_([call.a_leg.uuid for call in refused]))]
        row.notes.append(f"refused: {sorted(set(reasons))}")
    return row


# --- the scenarios ---------------------------------------------------------------------------


def duplicated_cdrs(world: World, tries: int) -> FaultRow:
    busy = {}
    calls = [world.outbound_on_free_seat(busy) for _ in range(tries)]
    assert all(call.wait_ended(60) for call in calls), "calls did not end"
    paths = write_all(world.cdr_dir, [d for call in calls for d in outbound_cdrs(call)], copies=2)
    reports = [cdr.ingest(paths) for _ in range(2)]
    row = FaultRow("outbound: CDR after the app's charge, each CDR twice, job run twice", tries, calls_placed=tries)
    row.notes.append(f"job: {reports[0].summary()}")
    return count(refusals(row, calls), [callee_of(c) for c in calls], [c.a_leg for c in calls])


def racing_cdrs(world: World, tries: int) -> FaultRow:
    """The CDR is ingested as soon as the callee's leg has hung up: before, during or after the
    app (another process) charges the call."""
    first = {"cdr": 0, "app": 0}
    calls = []
    busy = {}
    for _ in range(tries):
        call = world.outbound_on_free_seat(busy)
        calls.append(call)
        if not call.wait_for("b-leg:bridge", 30):
            continue
        leg = call.callee_legs[0]
        leg.hangup_done.wait(30)
        report = cdr.ingest(write_all(world.cdr_dir, outbound_cdrs(call)[:1]))
        first["cdr" if report.charged else "app"] += 1
    assert all(call.wait_ended(60) for call in calls), "calls did not end"
    cdr.ingest(write_all(world.cdr_dir, [d for call in calls for d in outbound_cdrs(call)]))
    row = FaultRow("outbound: CDR ingested at the callee's hangup, racing the app's charge", tries,
                   calls_placed=tries)
    row.notes.append(f"the CDR charged first in {first['cdr']}, the app in {first['app']}")
    return count(refusals(row, calls), [callee_of(c) for c in calls], [c.a_leg for c in calls])


def inbound_calls(world: World, tries: int) -> FaultRow:
    calls = []
    for _ in range(tries):  # one seat: one call at a time
        call = world.inbound()
        assert call.wait_ended(60), "inbound call did not end"
        calls.append(call)
    paths = write_all(world.cdr_dir, [d for call in calls for d in inbound_cdrs(call)], copies=2)
    reports = [cdr.ingest(paths) for _ in range(2)]
    row = FaultRow("inbound: answered, bridged to a seat; CDRs of both legs (twice)", tries, calls_placed=tries)
    row.notes.append(f"job: {reports[0].summary()}")
    return count(row, [c.a_leg for c in calls], [leg for c in calls for leg in c.callee_legs])


def import_while_calling(world: World, tries: int, rows: int) -> FaultRow:
    csv_path = world.dir / "dnc.csv"
    with open(csv_path, "w", encoding="utf-8") as out:
        out.write("number,reason\n")
        out.writelines(f"+86139{n:08d},bulk\n" for n in range(rows))
    began = time.perf_counter()
    importer = subprocess.Popen([FSAPP, "dnc", "import", str(csv_path), "--tenant", "acme"], env=world.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    healthz = []
    calls = []
    busy = {}
    while importer.poll() is None or len(calls) < tries:
        if len(calls) < tries:
            calls.append(world.outbound_on_free_seat(busy))
        healthz.append(world.healthz_ms())
        gevent.sleep(0.05)
    out, err = importer.communicate()
    seconds = time.perf_counter() - began
    assert all(call.wait_ended(60) for call in calls), "calls did not end"
    cdr.ingest(write_all(world.cdr_dir, [d for call in calls for d in outbound_cdrs(call)]))
    row = FaultRow(f"{rows // 1000}k-row do-not-call import while calls run", tries, calls_placed=tries,
                   healthz_max_ms=max(healthz))
    refusals(row, calls)
    row.notes.append(f"`fsapp dnc import` exit {importer.returncode} in {seconds:.1f} s: {out.strip() or err.strip()}")
    return count(row, [callee_of(c) for c in calls if c.callee_legs], [c.a_leg for c in calls])


def kill_mid_call(world: World, rounds: int, per_round: int) -> FaultRow:
    """Each round: calls from seats of their own, every one bridged, then SIGKILL of the app: it
    never sees a hangup. The CDR job then charges them; the app is started again for the next round."""
    calls, bridged, notes = [], [], []
    for round_ in range(rounds):
        if round_:
            world.start()
        seats = world.kill_seats[round_ * per_round:(round_ + 1) * per_round]
        wave = [world.outbound(seat) for seat in seats]
        up = [call for call in wave if call.wait_for("b-leg:bridge", 30)]

        def note_end(leg):
            leg.hangup_done.wait(60)
            leg.seen_ended_us = clock_us()

        watchers = [gevent.spawn(note_end, leg) for call in wave for leg in call.legs]
        os.kill(world.serve.pid, signal.SIGKILL)
        world.serve.process.wait(30)
        gevent.joinall(watchers, timeout=90)  # the callees hang up by their script; FreeSWITCH clears the agents
        world.fake.close()
        job_dir = world.cdr_dir / f"after-kill-{round_}"
        job_dir.mkdir()
        write_all(job_dir, [d for call in wave for d in outbound_cdrs(call)])
        report = cdr.ingest_directory(job_dir, settle_age_s=0)  # what the `cdr` job does every minute
        notes.append(f"round {round_ + 1}: {len(up)} of {len(wave)} bridged; job: {report.summary()}")
        calls += wave
        bridged += up
    world.fake = world.serve = None
    row = FaultRow("kill -9 of the app with every call bridged; then the CDR job", rounds, calls_placed=len(calls))
    row.notes.extend(notes)
    return count(refusals(row, calls), [callee_of(c) for c in bridged], [c.a_leg for c in calls])


def main(quick: bool) -> int:
    tries = 3 if quick else 20
    rounds, per_round = (1, 3) if quick else (3, 8)
    world = World(seats=8, callees=4 * tries + rounds * per_round + 10, kill_seats=rounds * per_round).start()
    rows = []
    try:
        rows.append(duplicated_cdrs(world, tries))
        rows.append(racing_cdrs(world, tries))
        rows.append(inbound_calls(world, tries))
        rows.append(import_while_calling(world, tries, 10_000 if quick else 100_000))
        rows.append(kill_mid_call(world, rounds, per_round))
    finally:
        world.stop()
    print(json.dumps([dataclasses.asdict(row) for row in rows]))
    return 0
