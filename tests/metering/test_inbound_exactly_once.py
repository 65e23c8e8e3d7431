"""Exactly-once across the app's charge and FreeSWITCH's CDRs for every kind of call (issue 14):
the leg the `bridge` app makes to ring a seat for an inbound call is direction=outbound with an
originator, and was once taken for a callee leg and charged a second time at the outbound rate.
The CDRs are copies of the real ones in fs-transcripts/cdr with other uuids, numbers and times."""
import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from fs_app import cdr
from fs_app.config import load_settings
from fs_app.inbound_admission import admit_inbound
from fs_app.metering import Meter
from models import CallRecord, LedgerEntry, NumberLease
from models.ledger import posting
from models.seats import number_leases
from models.calls.billing import charge_call, charge_key
from domain.clock import utcnow

from fake_switch.cdrs import REPO, agent_leg, bridged_leg, callee_leg, inbound_leg, write
from .conftest import LEASED, admit, assert_ledger_sound, fresh, make_tenant

CALLER = "+8613912345678"
SEAT = "1001"
EMERGENCY = "110"


@pytest.fixture
def settings():
    return load_settings({})


@pytest.fixture
def meter(settings):
    return Meter(settings)


@pytest.fixture
def tenant(db):
    tenant = make_tenant("inb", rate=12, inbound_rate=5, balance=10_000)
    number_leases.lease_number("inb", LEASED)
    NumberLease.update(leased_at=datetime(2026, 1, 1)).execute()  # leased long before the calls
    return tenant


def us(moment: datetime) -> int:
    return int(moment.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)


def call_money(tenant) -> list[tuple[str, int]]:
    return [(e.idempotency_key, e.amount_fen) for e in
            LedgerEntry.select().where((LedgerEntry.tenant == tenant.id) & (LedgerEntry.kind == "call"))
            .order_by(LedgerEntry.id)]


def assert_sound(tenant):
    assert_ledger_sound(tenant)
    assert cdr.phantom_charges() == []


class InboundCall:
    """An inbound call admitted by the real admission, answered, bridged to a seat for 75 s (two
    minutes at the inbound rate), and the CDRs of both of its legs."""

    def __init__(self, settings, directory):
        self.uuid, self.seat_uuid = str(uuid.uuid4()), str(uuid.uuid4())
        self.start = utcnow().replace(microsecond=0) - timedelta(minutes=5)
        admission = admit_inbound(self.uuid, LEASED, CALLER, self.start, settings)
        assert admission.allowed, admission.codes
        self.answered, self.ended = self.start + timedelta(seconds=1), self.start + timedelta(seconds=76)
        times = dict(start_us=us(self.start), answer_us=us(self.answered), end_us=us(self.ended))
        self.paths = [
            write(directory, inbound_leg(self.uuid, caller=CALLER, destination=LEASED, bridged_to=self.seat_uuid,
                                         **times)),
            write(directory, bridged_leg(self.seat_uuid, originator=self.uuid, caller=CALLER, destination=SEAT,
                                         start_us=us(self.start) + 5_000_000, answer_us=us(self.start) + 9_000_000,
                                         end_us=us(self.ended))),
        ]

    def app_charge(self, meter):
        return meter.hangup(callee_uuid=self.uuid, agent_uuid=self.uuid, answered_at=self.answered,
                            ended_at=self.ended, hangup_cause="NORMAL_CLEARING", direction="inbound")


def charge_while_ingesting(app_charge, paths, request, tmp_path):
    """The app's charge and the CDR job (another process, as in production) at once: the app's
    transaction pauses after posting its ledger entry until the job has started its ingest, so
    the job runs while the app's charge is in flight (it waits for the lock, or reads before the
    commit: either way the call is charged once)."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.metering.charge_worker", "ingest", getattr(request.node, "database_url", ""),
         str(tmp_path), *map(str, paths)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    assert worker.stdout.readline() == "ready\n", worker.communicate(timeout=60)
    original = posting.append_locked
    paused = []

    def pausing_append(*args, **kwargs):
        entry = original(*args, **kwargs)
        if not paused:
            paused.append(True)
            worker.stdin.write("go\n")
            worker.stdin.flush()
            assert worker.stdout.readline() == "ingesting\n"
        return entry

    posting.append_locked = pausing_append
    try:
        result = app_charge()
    finally:
        posting.append_locked = original
    out, err = worker.communicate(timeout=60)
    assert paused and worker.returncode == 0, err
    return result, cdr.IngestReport(**json.loads(out))


@pytest.mark.parametrize("order", ["cdr_before", "cdr_after", "cdr_during", "app_crashed"])
def test_an_inbound_call_bridged_to_a_seat_is_charged_once_at_the_inbound_rate(tenant, settings, meter, tmp_path,
                                                                                 request, order):
    call = InboundCall(settings, tmp_path)
    reports = []
    if order == "cdr_before":
        reports.append(cdr.ingest(call.paths))
        assert call.app_charge(meter).duplicate
    elif order == "cdr_after":
        assert call.app_charge(meter).charged_now
        reports.append(cdr.ingest(call.paths))
    elif order == "cdr_during":
        result, report = charge_while_ingesting(lambda: call.app_charge(meter), call.paths, request, tmp_path)
        reports.append(report)
        assert result.charged_now
    else:  # the app died before its hangup: only the CDRs tell
        reports.append(cdr.ingest(call.paths))
    reports.append(cdr.ingest(call.paths + call.paths))  # the job again, each file twice
    assert call_money(tenant) == [(charge_key(call.uuid), -10)]  # 75 s inbound: 2 minutes at 5 fen
    assert all(r.seat_legs == 1 * (1 + (i > 0)) and not r.unmatched and not r.bad for i, r in enumerate(reports))
    assert CallRecord.get_or_none(CallRecord.callee_uuid == call.seat_uuid) is None
    record = CallRecord.get(CallRecord.callee_uuid == call.uuid)
    assert (record.direction, record.charged, record.charge_fen, record.billsec, record.cdr_billsec) == (
        "inbound", True, 10, 75, 75)
    assert fresh(tenant).balance_fen == 10_000 - 10
    assert_sound(tenant)


def test_seat_legs_are_not_billed_even_when_their_inbound_leg_comes_in_a_later_batch(tenant, settings, tmp_path):
    call = InboundCall(settings, tmp_path)
    first = cdr.ingest([call.paths[1]])  # the seat leg alone: its inbound call's record names it
    assert (first.seat_legs, first.charged, first.unmatched) == (1, 0, [])
    CallRecord.delete().execute()  # the app wrote nothing at all
    alone = cdr.ingest([call.paths[1]])
    assert alone.charged == 0 and len(alone.unmatched) == 1 and "not billed on its own" in alone.unmatched[0]
    both = cdr.ingest(call.paths, batch_size=1)  # inbound leg first, then its seat leg in the next batch
    assert both.charged == 1 and both.seat_legs == 1
    assert call_money(tenant) == [(charge_key(call.uuid), -10)]
    assert_sound(tenant)


@pytest.mark.parametrize("order", ["cdr_before", "cdr_after", "cdr_during", "app_crashed"])
def test_an_outbound_call_is_charged_once_whatever_the_order(tenant, meter, tmp_path, request, order):
    start = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    record, _ = admit(tenant, hold_fen=24, at=start)
    answered, ended = start + timedelta(seconds=3), start + timedelta(seconds=64)  # 61 s: 2 minutes at 12
    paths = [
        write(tmp_path, callee_leg(record.callee_uuid, parent=record.agent_uuid, caller=LEASED,
                                   destination="13800138000", start_us=us(start), answer_us=us(answered),
                                   end_us=us(ended))),
        write(tmp_path, agent_leg(record.agent_uuid, agent=SEAT, destination="13800138000",
                                  bridged_to=record.callee_uuid, start_us=us(start) - 2_000_000,
                                  answer_us=us(start) - 1_000_000, end_us=us(ended))),
    ]

    def app_charge():
        return meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                            ended_at=ended, direction="outbound", release_at=ended)

    if order == "cdr_before":
        cdr.ingest(paths)
        assert app_charge().duplicate
    elif order == "cdr_after":
        assert app_charge().charged_now
        cdr.ingest(paths)
    elif order == "cdr_during":
        assert charge_while_ingesting(app_charge, paths, request, tmp_path)[0].charged_now
    else:
        cdr.ingest(paths)
    again = cdr.ingest(paths + paths)
    assert (again.charged, again.agent_legs, again.confirmed) == (0, 2, 2)
    assert call_money(tenant) == [(charge_key(record.callee_uuid), -24)]
    assert CallRecord.select().count() == 1
    assert_sound(tenant)


def test_a_transferred_call_is_billed_on_its_own_leg_only(tenant, settings, meter, tmp_path):
    """An outbound callee transferred on to another party, and an inbound call a seat transferred
    to another seat: the legs the transfers made carry an originator, not our variables."""
    start = utcnow().replace(microsecond=0) - timedelta(minutes=10)
    record, _ = admit(tenant, hold_fen=24, at=start)
    answered, ended = start + timedelta(seconds=2), start + timedelta(seconds=92)  # 90 s: 2 minutes
    target = str(uuid.uuid4())
    outbound = [
        write(tmp_path, callee_leg(record.callee_uuid, parent=record.agent_uuid, caller=LEASED,
                                   destination="13800138000", start_us=us(start), answer_us=us(answered),
                                   end_us=us(ended))),
        write(tmp_path, bridged_leg(target, originator=record.callee_uuid, caller=LEASED, destination="1002",
                                    start_us=us(answered) + 30_000_000, answer_us=us(answered) + 32_000_000,
                                    end_us=us(ended))),
    ]
    call = InboundCall(settings, tmp_path)
    second_seat = str(uuid.uuid4())
    onward = write(tmp_path, bridged_leg(second_seat, originator=call.seat_uuid, caller=CALLER, destination="1002",
                                         start_us=us(call.answered) + 20_000_000,
                                         answer_us=us(call.answered) + 22_000_000, end_us=us(call.ended)))
    meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered, ended_at=ended,
                 direction="outbound")
    call.app_charge(meter)
    for _ in range(2):
        report = cdr.ingest([*outbound, *call.paths, onward])
        assert report.charged == 0 and len(report.unmatched) == 2  # the two transfer legs: nobody's to bill
    assert call_money(tenant) == [(charge_key(record.callee_uuid), -24), (charge_key(call.uuid), -10)]
    assert CallRecord.select().count() == 2
    assert_sound(tenant)


def test_an_emergency_call_is_recorded_once_and_never_billed(tenant, meter, tmp_path):
    start = utcnow().replace(microsecond=0) - timedelta(minutes=5)
    record, hold = admit(tenant, hold_fen=0, callee=EMERGENCY, dialled=EMERGENCY, at=start)
    answered, ended = start + timedelta(seconds=1), start + timedelta(seconds=300)
    path = write(tmp_path, callee_leg(record.callee_uuid, parent=record.agent_uuid, caller=LEASED,
                                      destination=EMERGENCY, start_us=us(start), answer_us=us(answered),
                                      end_us=us(ended)))
    meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered, ended_at=ended,
                 dialled=EMERGENCY)
    for _ in range(2):
        report = cdr.ingest([path, path], emergency_numbers=(EMERGENCY,))
        assert report.charged == 0 and report.records_created == 0
    assert call_money(tenant) == []
    record = fresh(record)
    assert (record.charged, record.charge_fen, record.cdr_billsec) == (True, 0, 299)
    assert_sound(tenant)


def test_ledger_verify_finds_a_phantom_charge_on_a_seat_leg(tenant, settings, meter, tmp_path, cli):
    call = InboundCall(settings, tmp_path)
    call.app_charge(meter)
    assert cli("ledger", "verify").code == 0
    # what reconciliation did before issue 14: the seat leg charged as an outbound callee leg
    charge_call(call.seat_uuid, source="cdr", answered_at=call.answered, ended_at=call.ended, billsec=75,
                agent_uuid=call.uuid, tenant_id=tenant.id, direction="outbound")
    assert len(call_money(tenant)) == 2
    problems = cdr.phantom_charges()
    assert len(problems) == 1 and call.seat_uuid in problems[0] and call.uuid in problems[0]
    result = cli("ledger", "verify")
    assert result.code == 1 and "phantom charge" in result.out and call.seat_uuid in result.out
    assert posting.verify_tenant_ledger(fresh(tenant)) == []  # the sums still agree: only the new check sees it
