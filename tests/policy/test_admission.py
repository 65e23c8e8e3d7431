"""admit / release / heartbeat / expire on SQLite and PostgreSQL: reservations, records, recovery."""
import sqlite3
from datetime import timedelta

import psycopg2

import models
from fs_app import jobs
from fs_app.deferred_records import DEFERRED
from fs_app.admission import admit, evaluate, heartbeat, release
from fs_app.policy import CallRequest
from models import Attempt, CallRecord, Hold, NumberLease, Seat
from models.calls import reservations

from policy_world import BEIJING_NUMBER, CALLEE, NOW, SEAT, make_tenant

OTHER_CALLEE = "+8613911112222"  # 北京市


def call(uuid, dialled=CALLEE, seat=SEAT, **changes):
    return CallRequest(call_uuid=uuid, dialled=dialled, seat_address=seat, authenticated=True, **changes)


def live_holds():
    return Hold.select().where(Hold.released_at.is_null()).count()


def test_admit_reserves_and_records(db, settings):
    tenant = make_tenant()
    admission = admit(call("a-1"), NOW, settings, node="node-1")
    assert admission.allowed and admission.codes == ()
    assert admission.caller_id == BEIJING_NUMBER and admission.max_duration_s == 60_000
    assert admission.hold_fen == 10 and admission.hold_expires_at == NOW + timedelta(seconds=settings.hold_lease_s)
    assert admission.callee_uuid and admission.billable and admission.record_allowed
    hold = Hold.get(Hold.call_uuid == "a-1")
    assert (hold.tenant_id, hold.seat_id, hold.number.number, hold.amount_fen, hold.node) == (
        tenant.id, Seat.get().id, BEIJING_NUMBER, 10, "node-1")
    attempt = Attempt.get(Attempt.call_uuid == "a-1")
    assert (attempt.callee_number, attempt.at, attempt.caller_lease.number) == (CALLEE, NOW, BEIJING_NUMBER)
    record = CallRecord.get(CallRecord.id == admission.record_id)
    assert (record.agent_uuid, record.callee_uuid, record.decision, record.result, record.reasons) == (
        "a-1", admission.callee_uuid, "allowed", "admitted", [])
    assert (record.caller_number, record.callee_number, record.max_duration_s, record.node) == (
        BEIJING_NUMBER, CALLEE, 60_000, "node-1")
    assert record.decide_ms > 0 and record.facts["tenant"]["available_fen"] == 10_000
    assert record.facts["debug"]["queries"] >= 7


def test_blocked_calls_are_recorded_with_every_reason_and_reserve_nothing(db, settings):
    make_tenant()
    night = NOW + timedelta(hours=12)
    admission = admit(call("b-1", dialled=OTHER_CALLEE), night, settings)
    assert not admission.allowed
    assert set(admission.codes) == {"NO_CONSENT", "OUTSIDE_CALLING_HOURS"}
    assert admission.callee_uuid is None and admission.hold_fen == 0
    record = CallRecord.get(CallRecord.agent_uuid == "b-1")
    assert record.decision == "blocked" and set(record.reasons) == {"NO_CONSENT", "OUTSIDE_CALLING_HOURS"}
    assert set(record.facts["reason_details"]) == set(record.reasons)
    # B6, in the same write: the category prompt the agent hears and the cause the channel ends with
    assert (record.prompts, record.hangup_cause) == (["blocked_callee_protected"], "CALL_REJECTED")
    assert Hold.select().count() == 0 and Attempt.select().count() == 0


def test_unknown_seat_is_recorded_without_tenant(db, settings):
    make_tenant()
    admission = admit(call("u-1", seat="nobody@acme.example"), NOW, settings)
    assert admission.codes == ("SEAT_UNKNOWN",)
    record = CallRecord.get(CallRecord.agent_uuid == "u-1")
    assert record.tenant_id is None and record.seat_address == "nobody@acme.example"


def test_seat_busy_until_released_and_frequency_counts_the_first(db, settings):
    make_tenant(callees=(CALLEE, OTHER_CALLEE))
    assert admit(call("c-1"), NOW, settings).allowed
    second = admit(call("c-2", dialled=OTHER_CALLEE), NOW, settings)
    assert set(second.codes) == {"SEAT_BUSY", "NUMBER_BUSY"}
    assert release("c-1", NOW + timedelta(minutes=1))
    assert not release("c-1", NOW + timedelta(minutes=1))  # twice: nothing left to release
    later = NOW + timedelta(minutes=2)
    assert admit(call("c-3", dialled=OTHER_CALLEE), later, settings).allowed
    release("c-3", later)
    again = admit(call("c-4"), later, settings)
    assert again.codes == ("FREQUENCY_LIMIT",)  # 2 minutes after the first attempt at CALLEE


def test_never_originated_calls_do_not_count(db, settings):
    make_tenant()
    assert admit(call("n-1"), NOW, settings).allowed
    release("n-1", NOW + timedelta(seconds=5), originated=False)
    assert Attempt.select().count() == 0
    assert admit(call("n-2"), NOW + timedelta(seconds=10), settings).allowed


def test_third_attempt_of_a_day_is_blocked(db, settings):
    make_tenant()
    for i, minutes in enumerate((0, 30)):
        when = NOW + timedelta(minutes=minutes)
        assert admit(call(f"d-{i}"), when, settings).allowed
        release(f"d-{i}", when + timedelta(minutes=1))
    assert admit(call("d-2"), NOW + timedelta(minutes=60), settings).codes == ("FREQUENCY_LIMIT",)


def test_balance_holds_count_first(db, settings):
    make_tenant(seats=3, seat_users=("1001", "1002", "1003"), balance=20,
                numbers=(BEIJING_NUMBER, "+861061234568", "+861061234569"), callees=(CALLEE, OTHER_CALLEE, "+8613911113333"))
    assert admit(call("m-1", seat="1001@acme.example"), NOW, settings).max_duration_s == 120
    second = admit(call("m-2", seat="1002@acme.example", dialled=OTHER_CALLEE), NOW, settings)
    assert second.allowed and second.max_duration_s == 60  # 20 - 10 held
    third = admit(call("m-3", seat="1003@acme.example", dialled="+8613911113333"), NOW, settings)
    assert third.codes == ("INSUFFICIENT_BALANCE",)


def test_extend_grows_a_hold_only_within_the_available_balance(db, settings):
    make_tenant(balance=100)
    assert admit(call("e-1"), NOW, settings).allowed
    assert reservations.extend("e-1", 90, NOW)
    assert not reservations.extend("e-1", 1, NOW)
    assert Hold.get(Hold.call_uuid == "e-1").amount_fen == 100
    assert not reservations.extend("nosuch", 1, NOW)


def test_crashed_process_hold_stops_counting_at_its_lease_end(db, settings):
    make_tenant(callees=(CALLEE, OTHER_CALLEE))
    lease_s = settings.hold_lease_s
    assert admit(call("k-1"), NOW, settings).allowed  # then the process dies: no release, no heartbeat
    just_before = NOW + timedelta(seconds=lease_s - 1)
    assert set(admit(call("k-2", dialled=OTHER_CALLEE), just_before, settings).codes) == {"SEAT_BUSY", "NUMBER_BUSY"}
    at_expiry = NOW + timedelta(seconds=lease_s)
    assert admit(call("k-3", dialled=OTHER_CALLEE), at_expiry, settings).allowed
    assert not heartbeat("k-1", at_expiry, settings)  # too late: the call must end
    assert reservations.expire(at_expiry) == 1
    assert Hold.get(Hold.call_uuid == "k-1").released_at == NOW + timedelta(seconds=lease_s)


def test_heartbeat_keeps_a_live_call_reserved(db, settings):
    make_tenant(callees=(CALLEE, OTHER_CALLEE))
    lease_s = settings.hold_lease_s
    assert admit(call("h-1"), NOW, settings).allowed
    beat = NOW + timedelta(seconds=lease_s - 1)
    assert heartbeat("h-1", beat, settings)
    assert Hold.get(Hold.call_uuid == "h-1").expires_at == beat + timedelta(seconds=lease_s)
    assert "SEAT_BUSY" in admit(call("h-2", dialled=OTHER_CALLEE), NOW + timedelta(seconds=lease_s + 5), settings).codes
    release("h-1", beat)
    assert not heartbeat("h-1", beat, settings)


def test_inbound_calls_take_number_slots(db, settings):
    make_tenant(seat_users=("1001", "1002"), callees=(CALLEE,))
    lease = NumberLease.get(NumberLease.number == BEIJING_NUMBER)
    assert reservations.reserve_inbound("in-1", lease, NOW, 90)
    assert not reservations.reserve_inbound("in-2", lease, NOW, 90)
    assert admit(call("o-1"), NOW, settings).codes == ("NUMBER_BUSY",)


def test_emergency_call_is_admitted_unbilled_without_attempt(db, settings):
    tenant = make_tenant(balance=0)
    models.Tenant.update(status="suspended").where(models.Tenant.id == tenant.id).execute()
    admission = admit(call("sos", dialled="120"), NOW + timedelta(hours=14), settings)
    assert admission.allowed and not admission.billable and admission.max_duration_s is None
    assert admission.caller_id == BEIJING_NUMBER and admission.hold_fen == 0
    assert Attempt.select().count() == 0 and Hold.get(Hold.call_uuid == "sos").amount_fen == 0
    record = CallRecord.get(CallRecord.agent_uuid == "sos")
    assert record.callee_number == "120" and record.facts["billable"] is False


def test_evaluate_writes_nothing(db, settings):
    make_tenant()
    before = (CallRecord.select().count(), Hold.select().count(), Attempt.select().count())
    assert evaluate(call("dry"), NOW, settings).allowed
    assert (CallRecord.select().count(), Hold.select().count(), Attempt.select().count()) == before


def test_policy_unavailable_when_the_database_is_locked(db, settings, request, tmp_path):
    make_tenant()
    if db == "postgres":
        # another session holds the tenant row: the lock timeout refuses the call, the record still goes in
        url = request.node.database_url
        other = psycopg2.connect(url)
        cursor = other.cursor()
        cursor.execute("SELECT id FROM tenant FOR UPDATE")
        try:
            admission = admit(call("x-1"), NOW, settings, timeout_s=0.2)
        finally:
            other.rollback()
            other.close()
        assert admission.codes == ("POLICY_UNAVAILABLE",)
        assert "lock" in admission.decision.reasons[0].detail.lower()
        assert DEFERRED.flush(10)  # recorded in the background once the lock is gone
        record = CallRecord.get(CallRecord.agent_uuid == "x-1")
        assert record.reasons == ["POLICY_UNAVAILABLE"] and record.decision == "blocked"
        assert (record.prompts, record.hangup_cause) == (["blocked_system"], "NORMAL_TEMPORARY_FAILURE")
    else:
        path = models.database.obj.database
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            admission = admit(call("x-1"), NOW, settings, timeout_s=0.3)
            assert admission.codes == ("POLICY_UNAVAILABLE",)
            assert admission.record_id is None  # the database refused the record too: deferred
            assert not DEFERRED.flush(0.3)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert DEFERRED.flush(10)  # the lock is gone: the refusal is recorded
        record = CallRecord.get(CallRecord.agent_uuid == "x-1")
        assert record.reasons == ["POLICY_UNAVAILABLE"] and record.decision == "blocked"
    assert Hold.select().count() == 0


def test_job_entries(db, settings):
    make_tenant()
    assert admit(call("j-1"), NOW, settings).allowed
    assert jobs.expire_holds(settings, NOW) == "0 lapsed hold(s) released"
    assert jobs.expire_holds(settings, NOW + timedelta(seconds=settings.hold_lease_s)) == "1 lapsed hold(s) released"


def test_prepared_statements_survive_a_new_connection(db, settings):
    make_tenant(callees=(CALLEE, OTHER_CALLEE))
    assert admit(call("p-1"), NOW, settings).allowed
    models.database.close()
    if db == "postgres":
        models.database.obj.close_all()  # a fresh connection has no prepared statements yet
    later = NOW + timedelta(seconds=10)
    assert set(admit(call("p-2", dialled=OTHER_CALLEE), later, settings).codes) == {"SEAT_BUSY", "NUMBER_BUSY"}
    release("p-1", later)
    assert admit(call("p-3", dialled=OTHER_CALLEE), later, settings).allowed
