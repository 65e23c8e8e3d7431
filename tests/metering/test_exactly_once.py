"""C6: a call is charged exactly once, keyed by its callee-leg uuid, whatever arrives twice, late
or out of order; emergency calls are never billed; the ledger stays the balance."""
from datetime import timedelta

import pytest

from fs_app.config import load_settings
from fs_app.metering import Meter
from models import Hold, LedgerEntry
from models.calls.billing import charge_call, charge_key
from domain.clock import utcnow

from .conftest import admit, assert_ledger_sound, call_entries, fresh, make_tenant


@pytest.fixture
def meter(db):
    return Meter(load_settings({}))


def times(seconds, ago=0):
    ended = utcnow().replace(microsecond=0) - timedelta(seconds=ago)
    return ended - timedelta(seconds=seconds), ended


def test_hangup_reported_twice_charges_once(acme, meter):
    record, _ = admit(acme, hold_fen=24)
    answered, ended = times(75)
    first = meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                         ended_at=ended)
    second = meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                          ended_at=ended + timedelta(seconds=30))
    assert first.charged_now and first.charge_fen == 24 and not first.duplicate
    assert not second.charged_now and second.duplicate and second.charge_fen == 24
    entries = call_entries(record.callee_uuid)
    assert [(e.kind, e.amount_fen, e.idempotency_key) for e in entries] == [("call", -24, charge_key(record.callee_uuid))]
    assert fresh(acme).balance_fen == 10_000 - 24
    assert fresh(record).billsec == 75
    assert_ledger_sound(acme)


def test_hangup_before_the_answer_report(acme, meter):
    record, _ = admit(acme, hold_fen=12)
    answered, ended = times(30)
    meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered, ended_at=ended)
    late = meter.answered(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid,
                          answered_at=answered + timedelta(seconds=5))
    assert late.settled and late.allowed_end is None
    record = fresh(record)
    assert record.answered_at == answered and record.charge_fen == 12 and record.result == "completed"
    assert len(call_entries(record.callee_uuid)) == 1


def test_cdr_then_app(acme):
    record, _ = admit(acme, hold_fen=24)
    answered, ended = times(61)
    by_cdr = charge_call(record.callee_uuid, source="cdr", answered_at=answered, ended_at=ended, billsec=61,
                         agent_uuid=record.agent_uuid)
    by_app = charge_call(record.callee_uuid, source="app", answered_at=answered, ended_at=ended,
                         agent_uuid=record.agent_uuid)
    assert by_cdr.charged_now and by_cdr.charge_fen == 24
    assert by_app.duplicate and not by_app.charged_now and not by_app.mismatch
    record = fresh(record)
    assert (record.cdr_billsec, record.billsec, record.cdr_mismatch) == (61, 61, False)
    assert fresh(acme).balance_fen == 10_000 - 24
    assert_ledger_sound(acme)


def test_app_then_cdr_agreeing(acme):
    record, _ = admit(acme, hold_fen=12)
    answered, ended = times(42)
    charge_call(record.callee_uuid, source="app", answered_at=answered, ended_at=ended, agent_uuid=record.agent_uuid)
    again = charge_call(record.callee_uuid, source="cdr", answered_at=answered, ended_at=ended, billsec=42,
                        agent_uuid=record.agent_uuid)
    assert again.duplicate and not again.mismatch
    record = fresh(record)
    assert (record.cdr_billsec, record.cdr_mismatch, record.charge_fen) == (42, False, 12)


@pytest.mark.parametrize("app_s, cdr_s, mismatch", [
    (59, 61, True),  # the CDR would bill a second minute
    (30, 35, True),  # more than a second apart
    (30, 31, False),  # within event timing
    (60, 60, False),
])
def test_app_then_disagreeing_cdr_is_flagged_not_charged_again(acme, app_s, cdr_s, mismatch):
    record, _ = admit(acme, hold_fen=24)
    answered, ended = times(app_s)
    charge_call(record.callee_uuid, source="app", answered_at=answered, ended_at=ended, agent_uuid=record.agent_uuid)
    result = charge_call(record.callee_uuid, source="cdr", answered_at=answered,
                         ended_at=answered + timedelta(seconds=cdr_s), billsec=cdr_s, agent_uuid=record.agent_uuid)
    assert result.mismatch is mismatch and not result.charged_now
    record = fresh(record)
    assert (record.billsec, record.cdr_billsec, record.cdr_mismatch) == (app_s, cdr_s, mismatch)
    assert len(call_entries(record.callee_uuid)) == 1


def test_an_app_that_missed_the_answer_cannot_hide_an_answered_call(acme):
    record, _ = admit(acme, hold_fen=24)
    answered, ended = times(90)
    zero = charge_call(record.callee_uuid, source="app", answered_at=None, ended_at=ended,
                       agent_uuid=record.agent_uuid, hangup_cause="NORMAL_CLEARING")
    assert zero.charge_fen == 0 and not zero.charged_now and fresh(record).charged
    by_cdr = charge_call(record.callee_uuid, source="cdr", answered_at=answered, ended_at=ended, billsec=90,
                         agent_uuid=record.agent_uuid)
    assert by_cdr.charged_now and by_cdr.charge_fen == 24 and by_cdr.mismatch
    again = charge_call(record.callee_uuid, source="cdr", answered_at=answered, ended_at=ended, billsec=90,
                        agent_uuid=record.agent_uuid)
    assert again.duplicate and fresh(acme).balance_fen == 10_000 - 24


def test_unanswered_calls_are_free_and_get_a_final_result(acme, meter):
    record, hold = admit(acme, hold_fen=12)
    result = meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=None,
                          ended_at=utcnow(), hangup_cause="USER_BUSY")
    assert result.charge_fen == 0 and not result.charged_now
    record = fresh(record)
    assert (record.charged, record.charge_fen, record.result, record.hangup_cause) == (True, 0, "busy", "USER_BUSY")
    assert call_entries(record.callee_uuid) == []
    assert fresh(hold).amount_fen == 0  # the money is free again


@pytest.mark.parametrize("dialled", ["110", "119", "120", "122"])
def test_emergency_calls_are_never_billed(acme, meter, dialled):
    record, _ = admit(acme, hold_fen=0, callee="", dialled=dialled)
    answered, ended = times(300)
    allowance = meter.answered(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered)
    assert allowance.allowed_end is None  # never cut for money
    assert meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                        ended_at=ended).charge_fen == 0
    cdr = charge_call(record.callee_uuid, source="cdr", answered_at=answered, ended_at=ended, billsec=300,
                      agent_uuid=record.agent_uuid, dialled=dialled)
    assert cdr.charge_fen == 0 and cdr.emergency and not cdr.charged_now
    assert call_entries(record.callee_uuid) == [] and fresh(acme).balance_fen == 10_000


def test_the_charge_takes_over_the_hold(acme, meter):
    record, hold = admit(acme, hold_fen=36)
    answered, ended = times(100)
    meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered, ended_at=ended)
    hold = fresh(hold)
    assert hold.amount_fen == 0 and hold.released_at is None  # the seat/number slots are released by reservations


def test_a_call_that_overran_its_hold_is_still_charged_in_full(db, meter):
    tenant = make_tenant("thin", rate=100, balance=100)
    record, _ = admit(tenant, hold_fen=100)
    answered, ended = times(130)
    assert meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                        ended_at=ended).charge_fen == 300
    assert fresh(tenant).balance_fen == -200
    assert_ledger_sound(tenant)


def test_promotional_credit_is_spent_first(db, meter):
    tenant = make_tenant("promo", rate=10, balance=1_000, promo=25)
    for seconds in (60, 60, 60):
        record, _ = admit(tenant, hold_fen=10)
        answered, ended = times(seconds)
        meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                     ended_at=ended)
    promo_parts = [e.promo_fen for e in LedgerEntry.select().where(LedgerEntry.kind == "call").order_by(LedgerEntry.id)]
    assert promo_parts == [-10, -10, -5]
    tenant = fresh(tenant)
    assert (tenant.balance_fen, tenant.promo_balance_fen) == (1_025 - 30, 0)
    assert_ledger_sound(tenant)


def test_a_record_admitted_before_the_callee_uuid_was_known(acme, meter):
    record, _ = admit(acme, hold_fen=12)
    record.callee_uuid = None
    record.save()
    answered, ended = times(20)
    meter.answered(callee_uuid="b-leg-1", agent_uuid=record.agent_uuid, answered_at=answered)
    meter.hangup(callee_uuid="b-leg-1", agent_uuid=record.agent_uuid, answered_at=answered, ended_at=ended)
    record = fresh(record)
    assert (record.callee_uuid, record.charge_fen) == ("b-leg-1", 12)


def test_a_call_of_no_known_tenant_is_refused(db):
    from domain.errors import NotFound

    with pytest.raises(NotFound):
        charge_call("nobody", source="app", answered_at=None, ended_at=utcnow())
    assert Hold.select().count() == 0
