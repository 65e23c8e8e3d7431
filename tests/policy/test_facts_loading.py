"""Facts come from the database as the rules expect, in a few queries, on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

import models
from fs_app.admission import evaluate
from fs_app.policy import CallRequest, classify_callee, platform_limits
from fs_app.policy.loader import load_facts
from models import Attempt, DoNotCall, Hold, TenantBan
from models.calls import reservations
from models.lists import list_entries
from models.tenancy import campaigns
from models.calls.tables import LeaseDailyUse
from models.calls.attempts import rebuild_lease_use
from domain.clock import local_day, local_day_bounds

from policy_world import BEIJING_NUMBER, CALLEE, NOW, SEAT, make_tenant


def request(**changes):
    fields = dict(call_uuid="a-1", dialled=CALLEE, seat_address=SEAT, authenticated=True)
    fields.update(changes)
    return CallRequest(**fields)


def load(settings, **changes):
    req = request(**changes)
    callee = classify_callee(req.dialled, "CN", tuple(settings.emergency_numbers))
    return load_facts(req, callee, platform_limits(settings), NOW)


class StatementCounter:
    """Counts the statements that really reach the database (a PREPARE happens once per
    connection and statement, not per call)."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = models.database.obj.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            self.count += not sql.startswith("PREPARE ")
            return real(sql, params, *args, **kwargs)

        monkeypatch.setattr(models.database.obj, "execute_sql", counting)


def test_allowed_call_and_query_count(db, settings, monkeypatch):
    make_tenant()
    counter = StatementCounter(monkeypatch)
    decision = evaluate(request(), NOW, settings)
    assert decision.allowed, decision.codes
    assert decision.caller_id == BEIJING_NUMBER
    assert decision.max_duration_s == 60_000 and decision.hold_fen == 10
    assert counter.count == decision.facts["debug"]["queries"] == 7


def test_seat_tenant_campaign_in_one_row(db, settings):
    tenant = make_tenant()
    facts = load(settings)
    assert facts.seat.address == SEAT and facts.tenant.id == tenant.id and facts.tenant.balance_fen == 10_000
    assert facts.campaign.code == "spring" and facts.campaign.status == "approved"  # the seat's default
    campaigns.add_campaign("acme", "autumn", script="秋季回访")
    assert load(settings, campaign_code="autumn").campaign.status == "review"
    assert load(settings, campaign_code="nosuch").campaign is None


def test_another_tenants_campaign_is_unknown(db, settings):
    make_tenant()
    make_tenant("other", domain="other.example", numbers=("+861061234599",))
    campaigns.add_campaign("other", "theirs", script="x")
    assert load(settings, campaign_code="theirs").campaign is None


def test_unknown_and_unauthenticated_seats_load_no_tenant(db, settings):
    make_tenant()
    for changes in ({"seat_address": "9999@acme.example"}, {"authenticated": False}, {"seat_address": "not an address"}):
        facts = load(settings, **changes)
        assert facts.seat is None and facts.tenant is None


def test_bans_lifted_and_ended_are_not_loaded(db, settings):
    tenant = make_tenant()
    TenantBan.create(tenant=tenant, function="outbound", until=NOW + timedelta(hours=1))
    TenantBan.create(tenant=tenant, function="account", until=NOW)  # ends exactly now
    TenantBan.create(tenant=tenant, function="account", until=None, lifted_at=NOW - timedelta(hours=1))
    TenantBan.create(tenant=tenant, function="recording", until=None)
    assert sorted(b.function for b in load(settings).bans) == ["outbound", "recording"]


def test_dnc_platform_and_own_tenant_only(db, settings):
    make_tenant()
    other = make_tenant("other", domain="other.example", numbers=("+861061234599",))
    list_entries.add_dnc_entry(CALLEE, tenant=other)
    assert load(settings).dnc == ()
    list_entries.add_dnc(CALLEE, tenant_code="acme")
    list_entries.add_dnc(CALLEE)
    assert sorted(e.scope for e in load(settings).dnc) == ["platform", "tenant"]
    assert DoNotCall.select().count() == 3


def test_consent_revoked_is_not_loaded(db, settings):
    tenant = make_tenant()
    assert len(load(settings).consents) == 1
    list_entries.revoke_consent(tenant, CALLEE)
    assert load(settings).consents == ()
    assert evaluate(request(), NOW, settings).codes == ("NO_CONSENT",)


def test_attempts_own_30_days_everyone_24_hours(db, settings):
    acme = make_tenant()
    other = make_tenant("other", domain="other.example", numbers=("+861061234599",))
    rows = [(acme, timedelta(days=29)), (acme, timedelta(days=31)), (other, timedelta(hours=23)),
            (other, timedelta(hours=25)), (acme, timedelta(hours=2))]
    for i, (tenant, age) in enumerate(rows):
        Attempt.create(call_uuid=f"x{i}", tenant=tenant, callee_number=CALLEE, at=NOW - age)
    Attempt.create(call_uuid="y", tenant=acme, callee_number="+8613912345678", at=NOW - timedelta(hours=1))
    facts = load(settings)
    assert sorted(facts.tenant_attempts) == [NOW - timedelta(days=29), NOW - timedelta(hours=2)]
    assert sorted(facts.global_attempts) == [NOW - timedelta(hours=23), NOW - timedelta(hours=2)]


def test_leases_local_pinned_live_and_used_today(db, settings):
    tenant = make_tenant(numbers=(BEIJING_NUMBER, "+861061234568", "+862161234567"), max_calls=2)
    beijing, beijing2, shanghai = (models.NumberLease.get(models.NumberLease.number == n)
                                   for n in (BEIJING_NUMBER, "+861061234568", "+862161234567"))
    facts = load(settings)
    assert sorted(lease.number for lease in facts.leases) == [BEIJING_NUMBER, "+861061234568"]
    models.Seat.update(pinned_number=shanghai).execute()
    assert len(load(settings).leases) == 3  # the pinned number is loaded even from another province
    # live calls: inbound and outbound, not expired, not released
    Hold.create(call_uuid="in", tenant=tenant, number=beijing, direction="inbound", expires_at=NOW + timedelta(seconds=5))
    Hold.create(call_uuid="out", tenant=tenant, number=beijing, expires_at=NOW + timedelta(seconds=5))
    Hold.create(call_uuid="dead", tenant=tenant, number=beijing, expires_at=NOW)
    Hold.create(call_uuid="done", tenant=tenant, number=beijing, expires_at=NOW + timedelta(minutes=1),
                released_at=NOW - timedelta(seconds=1))
    # used today: since midnight in Shanghai (16:00 UTC the day before)
    midnight = local_day_bounds(local_day(NOW))[0]
    assert midnight == NOW - timedelta(hours=10)
    for i, when in enumerate((midnight, midnight + timedelta(hours=1), midnight - timedelta(seconds=1))):
        reservations.take(call_uuid=f"u{i}", tenant_id=tenant.id, seat_id=None, lease_id=beijing2.id,
                          callee_number="+8613912345678", amount_fen=0, now=when, lease_s=60)
    by_number = {lease.number: lease for lease in load(settings).leases}
    assert by_number[BEIJING_NUMBER].live_calls == 2 and by_number[BEIJING_NUMBER].max_calls == 2
    assert by_number["+861061234568"].used_today == 2 and by_number["+861061234568"].live_calls == 0
    decision = evaluate(request(), NOW, settings)
    assert decision.codes == ()
    assert decision.caller_id == "+861061234568"  # the Beijing number with a free slot


def test_live_holds_of_seat_and_tenant_and_held_money(db, settings):
    tenant = make_tenant(seat_users=("1001", "1002"))
    seat1, seat2 = models.Seat.select().order_by(models.Seat.sip_user)
    alive = NOW + timedelta(seconds=30)
    Hold.create(call_uuid="h1", tenant=tenant, seat=seat1, amount_fen=30, expires_at=alive)
    Hold.create(call_uuid="h2", tenant=tenant, seat=seat2, amount_fen=40, expires_at=alive)
    Hold.create(call_uuid="h3", tenant=tenant, direction="inbound", amount_fen=5, expires_at=alive)
    Hold.create(call_uuid="h4", tenant=tenant, seat=seat1, amount_fen=1000, expires_at=NOW)  # crashed process
    facts = load(settings)
    assert (facts.seat_live_calls, facts.tenant_live_outbound, facts.held_fen) == (1, 2, 75)
    assert facts.available_fen == 10_000 - 75
    assert set(evaluate(request(), NOW, settings).codes) == {"SEAT_BUSY", "SEAT_LIMIT"}


@pytest.mark.parametrize("dialled, queries", [("110", 4), ("12345", 3)])
def test_emergency_and_invalid_numbers_skip_callee_queries(db, settings, dialled, queries, monkeypatch):
    make_tenant()
    counter = StatementCounter(monkeypatch)
    decision = evaluate(request(dialled=dialled), NOW, settings)
    assert decision.allowed is (dialled == "110")
    assert counter.count == queries  # seat, bans, holds (+ leases for the emergency caller ID)


def test_daily_use_counters_follow_the_attempts(db, settings):
    """A10's "least used today" is kept as a counter per number and Shanghai day: written with
    the attempt, taken back when the callee leg was never created, rebuilt from the attempts."""
    tenant = make_tenant(numbers=(BEIJING_NUMBER, "+861061234568"))
    first, second = (models.NumberLease.get(models.NumberLease.number == n) for n in (BEIJING_NUMBER, "+861061234568"))

    def used():
        return {lease.number: lease.used_today for lease in load(settings).leases}

    def take(uuid, lease, at):
        reservations.take(call_uuid=uuid, tenant_id=tenant.id, seat_id=None, lease_id=lease.id,
                          callee_number="+8613912345678", amount_fen=0, now=at, lease_s=60)

    take("a", first, NOW - timedelta(minutes=2))
    take("b", first, NOW - timedelta(minutes=1))
    take("c", second, NOW - timedelta(minutes=1))
    take("yesterday", second, local_day_bounds(local_day(NOW))[0] - timedelta(seconds=1))
    assert used() == {BEIJING_NUMBER: 2, "+861061234568": 1}
    # a callee leg that was never created does not count (A9), nor does it use the number
    reservations.release("b", NOW, originated=False)
    reservations.release("yesterday", NOW, originated=False)
    assert used() == {BEIJING_NUMBER: 1, "+861061234568": 1}
    assert decision_caller_id(settings) == BEIJING_NUMBER  # equal use: the lower number
    take("d", first, NOW)
    assert decision_caller_id(settings) == "+861061234568"  # the one least used today
    # rebuilt from the attempts (the schema upgrade): the same counts
    LeaseDailyUse.delete().execute()
    assert used() == {BEIJING_NUMBER: 0, "+861061234568": 0}
    assert rebuild_lease_use(NOW) == 2
    assert used() == {BEIJING_NUMBER: 2, "+861061234568": 1}


def decision_caller_id(settings):
    return evaluate(request(), NOW, settings).caller_id
