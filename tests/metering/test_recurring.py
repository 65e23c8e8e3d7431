"""C3: seat rent per 30-day period and number rent from the payment day, paid in advance at
purchase and renewal; renewal while the available balance allows, lapse at the paid-through time."""
from datetime import datetime, timedelta

import pytest

from fs_app.policy.callee import classify_callee
from fs_app.policy.caller_id import choose_caller_id
from fs_app.policy.facts import LeaseFacts
from models import LedgerEntry, NumberLease, Seat
from models.ledger import topups
from models.seats import number_leases
from models.seats import seats
from models.tenancy import tenants
from models.ledger.balances import InsufficientBalance
from models.seats.rent import number_rent_key, renew_due, seat_rent_key

from .conftest import LEASED, admit, assert_ledger_sound, fresh, make_tenant


def entries(kind):
    return list(LedgerEntry.select().where(LedgerEntry.kind == kind).order_by(LedgerEntry.id))


@pytest.fixture
def renter(db):
    return make_tenant("rent", rate=12, seat_rent=3_000, balance=10_000)


def test_a_seat_is_paid_in_advance_at_purchase(renter):
    seat = seats.add_seat("rent", "1001@rent.example", days=30)
    [entry] = entries("seat_rent")
    assert (entry.amount_fen, entry.idempotency_key) == (-3_000, seat_rent_key(seat.id, seat.valid_from))
    assert seat.valid_to - seat.valid_from == timedelta(days=30)
    assert fresh(renter).balance_fen == 7_000
    longer = seats.add_seat("rent", "1002@rent.example", days=45, period_days=30)
    assert entries("seat_rent")[-1].amount_fen == -4_500 and longer.valid_to - longer.valid_from == timedelta(days=45)


def test_a_purchase_the_available_balance_cannot_pay_is_refused_whole(renter):
    admit(renter, hold_fen=7_500)  # a live call holds most of the money
    with pytest.raises(InsufficientBalance, match="available"):
        seats.add_seat("rent", "1001@rent.example")
    assert Seat.select().count() == 0 and entries("seat_rent") == []
    assert fresh(renter).balance_fen == 10_000


def test_a_number_is_paid_from_the_payment_day(renter):
    lease = number_leases.lease_number("rent", LEASED, monthly_fee=1_000)
    [entry] = entries("number_rent")
    assert entry.amount_fen == -1_000
    assert entry.idempotency_key == number_rent_key(lease.id, renter.id, lease.leased_at)
    assert lease.paid_through - lease.leased_at == timedelta(days=30)
    with pytest.raises(InsufficientBalance):
        number_leases.lease_number("rent", "+862012345679", monthly_fee=9_001)
    assert NumberLease.select().count() == 1


def test_seat_renewals_across_month_ends_and_february(renter):
    seat = seats.add_seat("rent", "1001@rent.example")
    Seat.update(valid_to=datetime(2027, 1, 31, 10, 0)).where(Seat.id == seat.id).execute()
    assert renew_due(at=datetime(2027, 1, 29, 10, 0)).seats_renewed == 0  # not due yet
    report = renew_due(at=datetime(2027, 1, 31, 9, 0))
    assert (report.seats_renewed, report.rent_fen) == (1, 3_000)
    assert fresh(seat).valid_to == datetime(2027, 3, 2, 10, 0)  # 30 days over a 28-day February
    assert renew_due(at=datetime(2027, 1, 31, 9, 30)).seats_renewed == 0  # once per period
    assert renew_due(at=datetime(2027, 3, 1, 11, 0)).seats_renewed == 1
    assert fresh(seat).valid_to == datetime(2027, 4, 1, 10, 0)
    keys = [e.idempotency_key for e in entries("seat_rent")][1:]
    assert keys == [seat_rent_key(seat.id, datetime(2027, 1, 31, 10, 0)),
                    seat_rent_key(seat.id, datetime(2027, 3, 2, 10, 0))]
    assert_ledger_sound(renter)


def test_number_renewal_in_a_leap_february(renter):
    lease = number_leases.lease_number("rent", LEASED, monthly_fee=1_000)
    NumberLease.update(paid_through=datetime(2028, 2, 10, 0, 0)).where(NumberLease.id == lease.id).execute()
    assert renew_due(at=datetime(2028, 2, 9, 12, 0)).numbers_renewed == 1
    assert fresh(lease).paid_through == datetime(2028, 3, 11, 0, 0)  # 29-day February
    assert [e.amount_fen for e in entries("number_rent")] == [-1_000, -1_000]


def test_a_lease_lapses_exactly_at_its_paid_through_time(renter):
    lease = number_leases.lease_number("rent", LEASED, monthly_fee=1_000)
    paid_through = datetime(2027, 5, 1, 0, 0)
    NumberLease.update(paid_through=paid_through).where(NumberLease.id == lease.id).execute()
    topups.topup("rent", 1)  # make it exact: 9,000 + 1 available
    # a live call: only 501 fen free of holds, the fee is 1,000
    admit(renter, hold_fen=8_500, at=paid_through - timedelta(hours=2), lease_s=4 * 3600)
    report = renew_due(at=paid_through - timedelta(hours=1))
    assert report.numbers_renewed == 0 and report.short_of_money == [f"number {LEASED}"]
    topups.topup("rent", 5_000)  # too late: the next run is at the paid-through time itself
    assert renew_due(at=paid_through).numbers_renewed == 0
    assert fresh(lease).paid_through == paid_through and len(entries("number_rent")) == 1
    # the policy reads paid_through: usable one microsecond before, not at the time itself
    facts = LeaseFacts(id=lease.id, number=LEASED, province=lease.province, city=lease.city,
                       paid_through=paid_through)
    callee = classify_callee("+8613800138000", "CN", ("110",))
    callee = type(callee)(**{**callee.__dict__, "province": lease.province, "city": lease.city})
    before = choose_caller_id([facts], callee, None, paid_through - timedelta(microseconds=1), local_required=True)
    at = choose_caller_id([facts], callee, None, paid_through, local_required=True)
    assert before.lease is not None and at.lease is None and at.code == "NUMBER_LEASE_EXPIRED"


def test_renewal_waits_for_the_balance_until_the_last_moment(renter):
    seat = seats.add_seat("rent", "1001@rent.example")
    end = datetime(2027, 6, 1)
    Seat.update(valid_to=end).where(Seat.id == seat.id).execute()
    topups.topup("rent", 1)
    # a live call leaves 2,001 free: not enough for 3,000
    admit(renter, hold_fen=5_000, at=end - timedelta(hours=6), lease_s=7 * 3600)
    assert renew_due(at=end - timedelta(hours=5)).short_of_money == ["seat 1001@rent.example"]
    topups.topup("rent", 1_000)
    assert renew_due(at=end - timedelta(seconds=1)).seats_renewed == 1
    assert fresh(seat).valid_to == end + timedelta(days=30)


def test_no_renewal_without_auto_renew_or_for_terminated_tenants(renter):
    seat = seats.add_seat("rent", "1001@rent.example")
    end = datetime(2027, 6, 1)
    Seat.update(valid_to=end, auto_renew=False).where(Seat.id == seat.id).execute()
    assert renew_due(at=end - timedelta(hours=1)).seats_renewed == 0
    Seat.update(auto_renew=True).where(Seat.id == seat.id).execute()
    tenants.set_tenant("rent", status="terminated", termination_kind="violation")
    assert renew_due(at=end - timedelta(hours=1)).seats_renewed == 0


def test_free_seats_renew_without_ledger_entries(db):
    make_tenant("free", seat_rent=0)
    seat = seats.add_seat("free", "1@free.example")
    Seat.update(valid_to=datetime(2027, 2, 1)).where(Seat.id == seat.id).execute()
    assert renew_due(at=datetime(2027, 1, 31, 12)).seats_renewed == 1
    assert fresh(seat).valid_to == datetime(2027, 3, 3) and entries("seat_rent") == []
