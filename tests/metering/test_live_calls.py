"""B5/A13: the hold of a live call grows while the balance allows, a top-up during the call lets
it grow again, otherwise the limit stands; payouts never take money live calls hold."""
import threading
from datetime import timedelta

import gevent
import gevent.event
import pytest

from fs_app.config import load_settings
from fs_app.metering import Meter
from models import Hold
from models.ledger import topups
from models.ledger.balances import InsufficientBalance, available
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.ledger.payouts import pay_out

from .conftest import admit, assert_ledger_sound, fresh, make_tenant


@pytest.fixture
def meter(db):
    # defaults: extend every 30 s, warning 30 s before the end -> look 90 s ahead
    return Meter(load_settings({}))


def start(meter, record, at):
    return meter.answered(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=at)


def test_the_hold_covers_the_look_ahead_and_grows_with_the_call(acme, meter):
    t0 = utcnow().replace(microsecond=0)
    record, hold = admit(acme, hold_fen=12, at=t0)
    allowance = start(meter, record, t0)
    assert allowance.hold_fen == 24 and allowance.covered_s == 120  # 90 s ahead, in whole minutes
    assert allowance.allowed_end == t0 + timedelta(seconds=120)
    assert allowance.warn_at == t0 + timedelta(seconds=90)
    later = meter.extend(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, now=t0 + timedelta(seconds=61))
    assert later.allowed_end == t0 + timedelta(seconds=180) and fresh(hold).amount_fen == 36
    assert fresh(hold).expires_at >= t0 + timedelta(seconds=61 + 90)  # the extension is a heartbeat too
    assert fresh(record).answered_at == t0 and fresh(record).result == "answered"


def test_when_the_balance_runs_out_the_limit_stands_until_a_top_up(db, meter):
    tenant = make_tenant("tight", rate=12, balance=30)
    t0 = utcnow().replace(microsecond=0)
    record, hold = admit(tenant, hold_fen=12, at=t0)
    assert start(meter, record, t0).allowed_end == t0 + timedelta(seconds=120)  # 24 of 30 fen
    stuck = meter.extend(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, now=t0 + timedelta(seconds=60))
    assert stuck.allowed_end == t0 + timedelta(seconds=120) and fresh(hold).amount_fen == 24
    topups.topup("tight", 100)
    moved = meter.extend(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, now=t0 + timedelta(seconds=70))
    assert moved.allowed_end == t0 + timedelta(seconds=180) and fresh(hold).amount_fen == 36


def test_live_calls_share_the_available_balance(db, meter):
    tenant = make_tenant("shared", rate=12, balance=40)
    t0 = utcnow().replace(microsecond=0)
    first, first_hold = admit(tenant, hold_fen=12, at=t0)
    second, second_hold = admit(tenant, hold_fen=12, at=t0)
    assert start(meter, first, t0).covered_s == 120  # 24: all that 40 - 12 (the other hold) allows in minutes
    assert start(meter, second, t0).covered_s == 60  # only 16 left: one minute, its own 12
    assert fresh(first_hold).amount_fen + fresh(second_hold).amount_fen <= 40
    assert available(fresh(tenant), t0).available_fen == 40 - 24 - 12


def test_an_allowed_end_never_moves_earlier(db, meter):
    tenant = make_tenant("shrink", rate=12, balance=100)
    t0 = utcnow().replace(microsecond=0)
    record, hold = admit(tenant, hold_fen=12, at=t0)
    first = start(meter, record, t0)
    # another call overran its hold and pushed the balance below zero
    other, _ = admit(tenant, hold_fen=0, at=t0)
    meter.hangup(callee_uuid=other.callee_uuid, agent_uuid=other.agent_uuid, answered_at=t0,
                 ended_at=t0 + timedelta(seconds=600))
    assert fresh(tenant).balance_fen < 0
    again = meter.extend(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, now=t0 + timedelta(seconds=30))
    assert again.allowed_end == first.allowed_end and fresh(hold).amount_fen == first.hold_fen


def test_a_lapsed_hold_ends_the_call(acme, meter):
    t0 = utcnow().replace(microsecond=0)
    record, hold = admit(acme, hold_fen=12, at=t0, lease_s=10)
    late = t0 + timedelta(seconds=11)
    allowance = meter.extend(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, now=late,
                             answered_at=t0)
    assert allowance.lapsed and allowance.allowed_end == late and not allowance.reserved
    assert fresh(hold).expires_at == t0 + timedelta(seconds=10)  # not revived


def test_without_a_hold_the_admission_maximum_stands(acme, meter):
    t0 = utcnow().replace(microsecond=0)
    record, hold = admit(acme, hold_fen=12, at=t0, max_duration_s=300)
    hold.delete_instance()
    allowance = start(meter, record, t0)
    assert not allowance.reserved and allowance.allowed_end == t0 + timedelta(seconds=300)


def test_free_talk_is_not_limited_by_money(db, meter):
    tenant = make_tenant("free", rate=0, balance=0)
    t0 = utcnow().replace(microsecond=0)
    record, _ = admit(tenant, hold_fen=0, at=t0)
    allowance = start(meter, record, t0)
    assert allowance.allowed_end is None and allowance.hangup_in_s(t0) is None


def test_hangup_in_whole_seconds_never_later_than_the_end(acme, meter):
    t0 = utcnow().replace(microsecond=0)
    record, _ = admit(acme, hold_fen=12, at=t0)
    allowance = start(meter, record, t0)
    assert allowance.hangup_in_s(t0 + timedelta(seconds=10, milliseconds=600)) == 109


def test_the_extension_loop_reports_a_top_up_during_the_call(db, meter):
    tenant = make_tenant("loop", rate=12, balance=12)
    t0 = utcnow()
    record, _ = admit(tenant, hold_fen=12, at=t0)
    first = start(meter, record, t0)
    assert first.covered_s == 60
    meter.interval_s = 0.02
    changes, stop = [], threading.Event()
    extensions, three_extensions = [], gevent.event.Event()
    extend = meter.extend

    def counted_extend(**kwargs):
        extensions.append(extend(**kwargs))
        if len(extensions) >= 3:
            three_extensions.set()
        return extensions[-1]

    meter.extend = counted_extend

    def on_change(allowance):
        changes.append(allowance)
        stop.set()

    worker = gevent.spawn(meter.keep_extending, callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid,
                          on_change=on_change, stop=stop, current=first)
    assert three_extensions.wait(10)
    assert changes == []  # three extensions, nothing to add: the limit stands
    topups.topup("loop", 1_000)
    worker.join(timeout=5)
    assert stop.is_set() and len(changes) == 1
    assert changes[0].allowed_end > first.allowed_end


# --- A13: payouts never take money held by live calls -------------------------------------


def test_a_refund_during_a_call_cannot_take_the_held_money(db, meter):
    tenant = make_tenant("fraud", rate=12, balance=100)
    t0 = utcnow().replace(microsecond=0)
    record, _ = admit(tenant, hold_fen=12, at=t0)
    start(meter, record, t0)  # holds 24
    with pytest.raises(InsufficientBalance, match="free of live holds"):
        pay_out(tenant.id, "refund", 100, note="customer asked")
    with pytest.raises(InsufficientBalance):
        pay_out(tenant.id, "forfeit", 77)
    with pytest.raises(InsufficientBalance):
        pay_out(tenant.id, "adjust", 77)
    assert pay_out(tenant.id, "refund", 76).amount_fen == 76
    result = meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=t0,
                          ended_at=t0 + timedelta(seconds=110))
    assert result.charge_fen == 24 and fresh(tenant).balance_fen == 0  # the call was paid in full
    assert_ledger_sound(tenant)


def test_lapsed_holds_do_not_count_and_partial_payouts_stop_at_the_holds(db):
    tenant = make_tenant("partial", rate=12, balance=100)
    now = utcnow()
    admit(tenant, hold_fen=30, at=now)
    admit(tenant, hold_fen=50, at=now - timedelta(seconds=200))  # lease ran out 110 s ago
    payout = pay_out(tenant.id, "forfeit", 100, up_to_available=True)
    assert payout.amount_fen == 70 and fresh(tenant).balance_fen == 30


def test_promotional_credit_is_not_refunded_as_cash(db):
    tenant = make_tenant("gift", rate=12, balance=70, promo=30)
    with pytest.raises(InsufficientBalance, match="paid money"):
        pay_out(tenant.id, "refund", 71)
    admit(tenant, hold_fen=40)  # a live call: held money is taken from the promotional part first
    money = available(fresh(tenant))
    assert (money.available_fen, money.promo_free_fen, money.paid_free_fen) == (60, 0, 60)
    assert pay_out(tenant.id, "refund", 60).promo_fen == 0
    with pytest.raises(InsufficientBalance):
        pay_out(tenant.id, "forfeit", 1)
    assert_ledger_sound(tenant)


@pytest.mark.parametrize("amount", [0, -5])
def test_payouts_are_positive(db, amount):
    tenant = make_tenant("p", balance=10)
    with pytest.raises(InvalidInput):
        pay_out(tenant.id, "refund", amount)
    assert Hold.select().count() == 0
