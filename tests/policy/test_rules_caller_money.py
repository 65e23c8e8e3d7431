"""A10 caller ID, A11-A12 script and industry, A13 balance and maximum duration."""
from dataclasses import replace
from datetime import timedelta

import pytest

from fs_app.policy import CampaignFacts, decide

from policy_builders import LIMITS, NOW, allowed_facts, callee, lease, request, seat, tenant

S = timedelta(seconds=1)
BEIJING = dict(province="北京市", city="北京市")
SHANGHAI = dict(province="上海市", city="上海市")
GUANGZHOU = dict(province="广东省", city="广州市")
SHENZHEN = dict(province="广东省", city="深圳市")


def decision(facts, now=NOW, **req):
    return decide(request(**req), facts, now)


# --- A10 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("leases, expected_code, expected_caller", [
    ((lease(1, "+861061234567", **BEIJING),), None, "+861061234567"),
    ((lease(1, "+862161234567", **SHANGHAI),), "NO_LOCAL_NUMBER", None),
    ((), "NO_LOCAL_NUMBER", None),
    ((lease(1, "+861061234567", **BEIJING, paid_through=NOW),), "NUMBER_LEASE_EXPIRED", None),
    ((lease(1, "+861061234567", **BEIJING, paid_through=NOW + S),), None, "+861061234567"),
    ((lease(1, "+861061234567", **BEIJING, live_calls=1, max_calls=1),), "NUMBER_BUSY", None),
    ((lease(1, "+861061234567", **BEIJING, live_calls=1, max_calls=2),), None, "+861061234567"),
    # an expired local number and a busy local number: the busy one is the closest to usable
    ((lease(1, "+861061234567", **BEIJING, paid_through=NOW),
      lease(2, "+861061234568", **BEIJING, live_calls=1)), "NUMBER_BUSY", None),
    # a paid number of another province does not help a Beijing callee
    ((lease(1, "+861061234567", **BEIJING, paid_through=NOW), lease(2, "+862161234567", **SHANGHAI)),
     "NUMBER_LEASE_EXPIRED", None),
])
def test_a10_local_paid_free_number(leases, expected_code, expected_caller):
    result = decision(allowed_facts(leases=leases))
    assert result.codes == ((expected_code,) if expected_code else ())
    assert result.caller_id == expected_caller


def test_a10_same_city_preferred_then_least_used_today():
    callee_sz = callee("+8675512345678")  # 深圳
    guangzhou = lease(1, "+862087654321", **GUANGZHOU, used_today=0)
    shenzhen_busy_day = lease(2, "+8675512345670", **SHENZHEN, used_today=9)
    shenzhen_quiet = lease(3, "+8675512345671", **SHENZHEN, used_today=2)
    facts = allowed_facts(callee=callee_sz, leases=(guangzhou, shenzhen_busy_day, shenzhen_quiet))
    assert decision(facts).caller_id == "+8675512345671"
    facts = allowed_facts(callee=callee_sz, leases=(guangzhou, shenzhen_busy_day))
    assert decision(facts).caller_id == "+8675512345670"  # same city beats fewer uses
    facts = allowed_facts(callee=callee_sz, leases=(guangzhou, replace(shenzhen_busy_day, live_calls=1)))
    assert decision(facts).caller_id == "+862087654321"  # same province when the city's number is busy


@pytest.mark.parametrize("pinned, expected", [
    (2, "+861061234568"),  # a qualifying pinned number wins over a less used one
    (3, "+861061234567"),  # pinned number in another province: not presented to a Beijing callee
    (None, "+861061234567"),
])
def test_a10_pinned_number_wins_when_it_qualifies(pinned, expected):
    leases = (lease(1, "+861061234567", **BEIJING, used_today=0), lease(2, "+861061234568", **BEIJING, used_today=5),
              lease(3, "+862161234567", **SHANGHAI))
    assert decision(allowed_facts(leases=leases, seat=seat(pinned_lease_id=pinned))).caller_id == expected


def test_a10_busy_pinned_number_gives_way():
    leases = (lease(1, "+861061234567", **BEIJING), lease(2, "+861061234568", **BEIJING, live_calls=1))
    assert decision(allowed_facts(leases=leases, seat=seat(pinned_lease_id=2))).caller_id == "+861061234567"


def test_a10_foreign_callee_any_paid_number_and_local_rule_switch():
    shanghai_only = (lease(1, "+862161234567", **SHANGHAI),)
    foreign = allowed_facts(callee=callee("+12015550123"), leases=shanghai_only)
    assert decision(foreign, now=NOW + timedelta(hours=13)).caller_id == "+862161234567"  # New York 10:00
    relaxed = allowed_facts(leases=shanghai_only, limits=replace(LIMITS, caller_id_local_required=False))
    assert decision(relaxed).caller_id == "+862161234567"


# --- A11 / A12 --------------------------------------------------------------------------------

@pytest.mark.parametrize("campaign, code, expected", [
    (CampaignFacts(3, "spring", "approved"), "spring", ()),
    (CampaignFacts(3, "spring", "review"), "spring", ("SCRIPT_NOT_APPROVED",)),
    (CampaignFacts(3, "spring", "draft"), "spring", ("SCRIPT_NOT_APPROVED",)),
    (CampaignFacts(3, "spring", "rejected"), "spring", ("SCRIPT_NOT_APPROVED",)),
    (None, "nosuch", ("SCRIPT_NOT_APPROVED",)),  # unknown code (or another tenant's)
    (None, "", ("SCRIPT_NOT_APPROVED",)),  # no campaign and no default
])
def test_a11_script_must_be_approved(campaign, code, expected):
    assert decision(allowed_facts(campaign=campaign), campaign_code=code).codes == expected


@pytest.mark.parametrize("industry, approved, expected", [
    ("loans", False, ("INDUSTRY_RESTRICTED",)),
    ("loans", True, ()),
    ("real_estate", False, ("INDUSTRY_RESTRICTED",)),
    ("retail", False, ()),
    ("", False, ()),
])
def test_a12_restricted_industry_needs_approval(industry, approved, expected):
    limits = replace(LIMITS, restricted_industries=frozenset({"loans", "real_estate"}))
    facts = allowed_facts(tenant=tenant(industry=industry, industry_approved=approved), limits=limits)
    assert decision(facts).codes == expected


def test_campaign_recording_switch():
    assert decision(allowed_facts(campaign=CampaignFacts(3, "spring", "approved", record=False))).record_allowed is False
    assert decision(allowed_facts()).record_allowed is True


# --- A13 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("balance, held, rate, increment, fee, allowed, max_s, hold", [
    (10, 0, 10, 60, 0, True, 60, 10),      # exactly one increment
    (9, 0, 10, 60, 0, False, None, 0),     # one fen short
    (19, 0, 10, 60, 0, True, 60, 10),      # whole increments only
    (20, 0, 10, 60, 0, True, 120, 10),
    (20, 10, 10, 60, 0, True, 60, 10),     # holds of live calls count first
    (20, 11, 10, 60, 0, False, None, 0),
    (15, 0, 10, 60, 5, True, 60, 15),      # connect fee plus one increment
    (14, 0, 10, 60, 5, False, None, 0),
    (1, 0, 10, 6, 0, True, 6, 1),          # 6-second increments: ceil(6 * 10 / 60) = 1 fen
    (0, 0, 0, 60, 0, True, None, 0),       # free calls are not limited by money
    (-1, 0, 0, 60, 0, False, None, 0),     # ...but an account in debt still is
])
def test_a13_balance_and_maximum_duration(balance, held, rate, increment, fee, allowed, max_s, hold):
    facts = allowed_facts(tenant=tenant(balance_fen=balance, rate_out_fen=rate, billing_increment_s=increment,
                                        connect_fee_fen=fee), held_fen=held)
    result = decision(facts)
    assert result.allowed is allowed
    assert result.codes == (() if allowed else ("INSUFFICIENT_BALANCE",))
    assert result.max_duration_s == max_s
    assert result.hold_fen == hold
