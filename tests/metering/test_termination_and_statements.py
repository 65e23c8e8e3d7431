"""C4 termination, C5 promotional credit and invoiceable amounts, monthly statements whose totals
are the ledger's, `fsapp ledger verify`, and `fsapp jobs run`."""
import json
from datetime import datetime, timedelta

import pytest

from models import LedgerEntry, NumberLease, Seat, Tenant
from models.ledger import posting
from models.seats import number_leases
from models.seats import seats
from models.tenancy import tenants
from models.calls.billing import charge_call
from models.ledger.balances import debit
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.ledger.statements import month_bounds, statement
from models.ledger.termination import settle_terminated, terminate

from .conftest import LEASED, admit, assert_ledger_sound, fresh, make_tenant


def kinds(tenant):
    return [(e.kind, e.amount_fen, e.promo_fen) for e in
            LedgerEntry.select().where(LedgerEntry.tenant == tenant.id).order_by(LedgerEntry.id)]


@pytest.fixture
def shop(db):
    tenant = make_tenant("shop", rate=12, seat_rent=1_000, balance=5_000, promo=300)
    seats.add_seat("shop", "1@shop.example")  # 1,000 rent: 300 promotional + 700 paid
    number_leases.lease_number("shop", LEASED)
    return fresh(tenant)


def test_violation_forfeits_everything(shop):
    settlement = terminate("shop", kind="violation", reason="fraud calls")
    assert (settlement.forfeited_fen, settlement.promo_forfeited_fen, settlement.refunded_fen) == (4_300, 0, 0)
    tenant = fresh(shop)
    assert (tenant.status, tenant.termination_kind, tenant.balance_fen) == ("terminated", "violation", 0)
    assert kinds(shop)[-1] == ("forfeit", -4_300, 0)
    assert not Seat.get().active and NumberLease.get().released_at is not None
    with pytest.raises(InvalidInput, match="already terminated"):
        terminate("shop", kind="operator_fault")
    assert_ledger_sound(shop)


def test_operator_fault_refunds_paid_money_and_writes_off_promotional_credit(db):
    tenant = make_tenant("nice", rate=12, balance=5_000, promo=300)
    settlement = terminate("nice", kind="operator_fault")
    assert (settlement.refunded_fen, settlement.promo_forfeited_fen) == (5_000, 300)
    assert kinds(tenant)[-2:] == [("refund", -5_000, 0), ("forfeit", -300, -300)]
    tenant = fresh(tenant)
    assert (tenant.balance_fen, tenant.promo_balance_fen) == (0, 0)
    assert_ledger_sound(tenant)


def test_money_held_by_live_calls_is_settled_after_they_end(db):
    tenant = make_tenant("busy", rate=12, balance=1_000)
    now = utcnow().replace(microsecond=0)
    record, _ = admit(tenant, hold_fen=100, at=now)
    settlement = terminate("busy", kind="operator_fault", at=now)
    assert (settlement.refunded_fen, settlement.still_held_fen) == (900, 100)
    assert fresh(tenant).balance_fen == 100
    assert settle_terminated(at=now) == []  # still held
    charge_call(record.callee_uuid, source="app", agent_uuid=record.agent_uuid, answered_at=now,
                ended_at=now + timedelta(seconds=100))
    [(code, later)] = settle_terminated(at=now + timedelta(seconds=101))
    assert code == "busy" and later.refunded_fen == 100 - 24
    assert fresh(tenant).balance_fen == 0 and settle_terminated(at=now + timedelta(seconds=102)) == []
    assert_ledger_sound(tenant)


def test_cli_terminate(cli, shop):
    result = cli("tenant", "terminate", "shop", "--kind", "operator_fault", "--reason", "platform closed")
    assert result.code == 0 and "refunded 4300 fen" in result.out
    assert cli("tenant", "terminate", "shop", "--kind", "violation").code == 2
    assert cli("tenant", "terminate", "nobody", "--kind", "violation").code == 2
    assert cli("tenant", "terminate", "shop", "--kind", "whim").code == 2


def test_a_tenant_terminated_without_a_kind_is_settled_when_given_one(shop):
    tenants.set_tenant("shop", status="terminated")
    assert fresh(shop).balance_fen == 4_300  # status alone moves no money
    assert terminate("shop", kind="violation").forfeited_fen == 4_300


# --- statements ---------------------------------------------------------------------------


def test_billing_months_are_shanghai_months():
    assert month_bounds("2027-03") == (datetime(2027, 2, 28, 16, 0), datetime(2027, 3, 31, 16, 0))
    assert month_bounds("2026-12")[1] == datetime(2026, 12, 31, 16, 0)
    for bad in ("2027-13", "2027-3", "March"):
        with pytest.raises(InvalidInput):
            month_bounds(bad)


def post_month(tenant):
    """Entries around and inside March 2027 (Shanghai), at chosen times."""
    posting.post(tenant.id, "topup", 10_000, at=datetime(2027, 2, 28, 15, 59))  # Feb 28 23:59 Shanghai
    posting.post(tenant.id, "promo", 500, promo_fen=500, at=datetime(2027, 2, 28, 16, 0))  # Mar 1 00:00
    for day, seconds in ((1, 61), (1, 30), (15, 600)):
        at = datetime(2027, 3, day, 3, 0)
        record, _ = admit(tenant, hold_fen=0, at=at)
        charge_call(record.callee_uuid, source="app", agent_uuid=record.agent_uuid, answered_at=at,
                    ended_at=at + timedelta(seconds=seconds), at=at + timedelta(seconds=seconds))
    debit(tenant.id, "seat_rent", 3_000, key="s", require_available=True, at=datetime(2027, 3, 10))
    posting.post(tenant.id, "adjust", 50, at=datetime(2027, 3, 20), note="goodwill")
    posting.post(tenant.id, "topup", 1_000, at=datetime(2027, 3, 31, 16, 0))  # April 1 in Shanghai


def test_a_statement_adds_up_to_the_ledger(db):
    tenant = make_tenant("stm", rate=12)
    post_month(tenant)
    march = statement(fresh(tenant), "2027-03")
    assert (march.opening_balance_fen, march.topups_fen, march.promo_credit_fen) == (10_000, 0, 500)
    assert [(d.day.isoformat(), d.count, d.minutes, d.fen) for d in march.call_days] == [
        ("2027-03-01", 2, 3, 36), ("2027-03-15", 1, 10, 120)]
    assert (march.calls_fen, march.seat_rent_fen, march.adjustments_fen) == (156, 3_000, 50)
    # promotional credit first: 500 of the 156 + 3,000 spent was promotional
    assert march.promo_spent_fen == 500 and march.invoiceable_fen == 156 + 3_000 - 500 - 50
    assert march.closing_balance_fen == 10_000 + 500 - 156 - 3_000 + 50
    entries = LedgerEntry.select().where(LedgerEntry.tenant == tenant.id)
    assert march.closing_balance_fen == sum(e.amount_fen for e in entries if e.created_at < march.end_utc)
    april = statement(fresh(tenant), "2027-04")
    assert april.opening_balance_fen == march.closing_balance_fen and april.topups_fen == 1_000
    assert april.closing_balance_fen == fresh(tenant).balance_fen
    assert_ledger_sound(tenant)


def test_cli_statement_formats(cli, db):
    tenant = make_tenant("stm", rate=12)
    post_month(tenant)
    table = cli("statement", "stm", "--month", "2027-03")
    assert table.code == 0 and "invoiceable" in table.out and "2027-03-15" in table.out
    document = json.loads(cli("statement", "stm", "--month", "2027-03", "--format", "json").out)
    assert document["closing_balance_fen"] == 10_000 + 500 - 156 - 3_000 + 50
    assert document["calls_count"] == 3 and document["timezone"] == "Asia/Shanghai"
    csv_out = cli("statement", "stm", "--month", "2027-03", "--format", "csv").out.splitlines()
    assert csv_out[0] == "item,day,count,minutes,fen" and "calls,2027-03-01,2,3,36" in csv_out
    assert cli("statement", "stm", "--month", "2027-3").code == 2
    assert cli("statement", "nobody", "--month", "2027-03").code == 2


# --- ledger verify and payouts from the CLI -----------------------------------------------


def test_ledger_verify_finds_every_kind_of_damage(cli, db):
    good = make_tenant("good", balance=100)
    cache = make_tenant("cache", balance=100)
    chain = make_tenant("chain", balance=100, promo=10)
    assert cli("ledger", "verify").code == 0
    Tenant.update(balance_fen=101).where(Tenant.id == cache.id).execute()
    LedgerEntry.update(balance_after_fen=5).where(
        (LedgerEntry.tenant == chain.id) & (LedgerEntry.kind == "promo")).execute()
    result = cli("ledger", "verify")
    assert result.code == 1
    lines = result.out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("cache: balance cache 101") and "balance_after 5" in lines[1]
    assert "2 of 3" in result.err and good


def test_cli_refund_respects_live_holds(cli, db):
    tenant = make_tenant("r", balance=100)
    admit(tenant, hold_fen=60)
    assert cli("ledger", "refund", "r", "50", "--note", "asked").code == 2
    result = cli("ledger", "refund", "r", "40", "--note", "asked")
    assert result.code == 0 and "balance 60 fen" in result.out
    assert cli("ledger", "adjust", "r", "0", "--note", "x").code == 2


def test_jobs_run_and_list(cli, db):
    make_tenant("j", seat_rent=100, balance=1_000)
    seat = seats.add_seat("j", "1@j.example")
    Seat.update(valid_to=datetime(2027, 1, 2)).where(Seat.id == seat.id).execute()
    listing = cli("jobs", "list")
    assert listing.code == 0 and {"rents", "terminations", "cdr"} <= {l.split(":")[0] for l in listing.out.splitlines()}
    result = cli("jobs", "run", "--at", "2027-01-01T12:00:00Z")
    assert result.code == 0 and "rents: 1 seat(s)" in result.out and "cdr:" in result.out
    again = cli("jobs", "run", "--only", "rents", "--at", "2027-01-01T12:00:00Z")
    assert "rents: 0 seat(s)" in again.out and "cdr:" not in again.out
    assert cli("jobs", "run", "--only", "nothing").code == 2
