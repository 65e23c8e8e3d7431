"""Inbound calls to leased numbers: admission, recording notice, bridge to free seats, charging."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models.tenancy import tenants
from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow
from models.seats.tables import Seat
from fs_app.policy.inbound import InboundFacts, decide_inbound
from fake_switch import LegScript, Press

from .conftest import BEIJING_NUMBER, make_tenant, names, played, today

CALLER = "+8613911112222"


def inbound(fake, did=BEIJING_NUMBER, *, script=None, seat_scripts=None):
    call = fake.place_inbound_call(did, CALLER, variables={"fsapp_direction": "inbound"}, script=script,
                                   callee_scripts=seat_scripts)
    assert call.wait_ended(10)
    return call, CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)


def bridge_args(leg):
    return [c for _, d, data in leg.connection.frames if d == "app->fs"
            for c in [data.decode()] if "execute-app-name: bridge" in c]


def test_inbound_consent_then_bridge_to_a_free_seat(db, make_settings, telephony):
    make_tenant(rate=10)
    fake = telephony.start(make_settings())
    call, record = inbound(fake, script=LegScript(presses=[Press("1")]),
                           seat_scripts={"1001": LegScript(hangup_after=50, hangup_relative_to="bridge")})
    (seat_leg,) = call.callee_legs
    assert "user/1001@acme.example" in bridge_args(call.a_leg)[0]
    assert names(played(call.a_leg)) == ["inbound_consent_request"]
    assert (record.direction, record.decision, record.result) == ("inbound", "allowed", "completed")
    assert record.recording_digit == "1" and record.recording_path.endswith(f"acme/{today()}/{call.a_leg.uuid}.wav")
    assert [r["path"] for r in call.a_leg.recordings] == [record.recording_path]
    assert record.charge_fen == 10 and record.billsec >= 1
    assert Hold.get(Hold.call_uuid == call.a_leg.uuid).released_at is not None


def test_sequential_mode_dials_seats_one_after_the_other(sqlite_db, make_settings, telephony):
    make_tenant(inbound_mode="sequential", seat_users=("1001", "1002"))
    fake = telephony.start(make_settings(inbound_ring_timeout_s=7))
    call, record = inbound(fake, script=LegScript(presses=[Press("2")]),
                           seat_scripts={"1002": LegScript(hangup_after=20, hangup_relative_to="bridge")})
    (arg,) = bridge_args(call.a_leg)
    assert "{originate_timeout=7,leg_timeout=7}user/1001@acme.example|user/1002@acme.example" in arg
    assert record.recording_digit == "2" and call.a_leg.recordings == []


def test_inbound_with_no_free_seat(sqlite_db, make_settings, telephony):
    make_tenant()
    Seat.update(valid_to=utcnow() - timedelta(minutes=1)).execute()  # the only seat lapsed
    fake = telephony.start(make_settings())
    call, record = inbound(fake, script=LegScript(presses=[Press("2")]))
    assert call.callee_legs == [] and bridge_args(call.a_leg) == []
    assert names(played(call.a_leg)) == ["inbound_consent_request", "inbound_nobody_available"]
    assert record.prompts == ["inbound_consent_request", "inbound_nobody_available"]
    assert record.charge_fen == 10  # answered for the notice (C1)


def test_inbound_nobody_answers(sqlite_db, make_settings, telephony):
    make_tenant()
    fake = telephony.start(make_settings(inbound_ring_timeout_s=2))
    call, record = inbound(fake, script=LegScript(presses=[Press("2")]),
                           seat_scripts={"1001": LegScript(outcome="no_answer")})
    assert names(played(call.a_leg)) == ["inbound_consent_request", "inbound_nobody_available"]


@pytest.mark.parametrize("setup,reason", [("unleased", "NUMBER_LEASE_EXPIRED"), ("banned", "FUNCTION_BANNED"),
                                          ("suspended", "TENANT_NOT_ACTIVE")])
def test_inbound_refused_politely(sqlite_db, make_settings, telephony, setup, reason):
    make_tenant(status="suspended" if setup == "suspended" else "active")
    if setup == "banned":
        tenants.ban_tenant("acme", function="inbound", until=utcnow() + timedelta(days=1))
    fake = telephony.start(make_settings())
    call, record = inbound(fake, "+861069999999" if setup == "unleased" else BEIJING_NUMBER)
    assert names(played(call.a_leg)) == ["inbound_unreachable"] and call.a_leg.hangup_cause == "CALL_REJECTED"
    assert record.decision == "blocked" and reason in record.reasons and record.direction == "inbound"
    assert Hold.select().count() == 0


def test_inbound_decision_is_pure():
    now = utcnow()
    facts = InboundFacts(did=BEIJING_NUMBER, lease_id=1, paid_through=now + timedelta(days=1), tenant_id=1,
                         tenant_code="acme", tenant_status="active", available_fen=9, rate_in_fen=10)
    assert decide_inbound(facts, now).codes == ("INSUFFICIENT_BALANCE",)
    assert decide_inbound(facts, now + timedelta(days=2)).codes == ("NUMBER_LEASE_EXPIRED", "INSUFFICIENT_BALANCE")
