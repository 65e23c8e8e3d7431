"""A5-A9, A16: the number, do-not-call, consent, calling hours, frequency, regions."""
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from fs_app.policy import ConsentFacts, DncFacts, decide
from fs_app.policy.limits import Limits

from policy_builders import LIMITS, NOW, allowed_facts, callee, lease, request, tenant

S = timedelta(seconds=1)
MIN = timedelta(minutes=1)


def codes(facts=None, now=NOW, req=None):
    return decide(req or request(), facts or allowed_facts(), now).codes


# --- A5 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dialled, expected", [
    ("13800138000", ()),
    ("+8613800138000", ()),
    ("12345", ("INVALID_NUMBER",)),
    ("", ("INVALID_NUMBER",)),
    ("1380013800x", ("INVALID_NUMBER",)),
])
def test_a5_number_must_be_valid(dialled, expected):
    assert codes(allowed_facts(callee=callee(dialled))) == expected


@pytest.mark.parametrize("short_code", ["110", "119", "120", "122"])
def test_a5_emergency_is_never_blocked_by_commercial_policy_and_never_billed(short_code):
    facts = allowed_facts(
        callee=callee(short_code), tenant=tenant(status="suspended", balance_fen=-500, industry="loans"),
        consents=(), campaign=None, seat_live_calls=3, tenant_live_outbound=9,
        dnc=(DncFacts("platform", NOW - S),), leases=(lease(paid_through=NOW - S, live_calls=1),),
        global_attempts=(NOW,) * 9)
    night = NOW + timedelta(hours=14)  # 00:00 local
    decision = decide(request(dialled=short_code), facts, night)
    assert decision.allowed, decision.codes
    assert decision.emergency and not decision.billable
    assert decision.hold_fen == 0 and decision.max_duration_s is None
    assert decision.callee == short_code
    assert decision.caller_id == "+861061234567"  # a callback number of the tenant, even unpaid/busy


def test_a5_emergency_without_leases_presents_no_number():
    decision = decide(request(dialled="110"), allowed_facts(callee=callee("110"), leases=()), NOW)
    assert decision.allowed and decision.caller_id is None


@pytest.mark.parametrize("req_changes, expected", [
    ({"authenticated": False}, ("UNAUTHENTICATED",)),
    ({"seat_address": ""}, ("AUTODIAL_FORBIDDEN",)),
])
def test_a5_emergency_still_needs_an_identified_seat(req_changes, expected):
    facts = allowed_facts(callee=callee("110"), seat=None, tenant=None)
    assert codes(facts, req=request(dialled="110", **req_changes)) == expected
    assert codes(facts, req=request(dialled="110")) == ("SEAT_UNKNOWN",)


# --- A6 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, limits, expected", [
    (DncFacts("platform", NOW - timedelta(days=900)), LIMITS, ("DNC",)),  # no expiry by default
    (DncFacts("tenant", NOW - S), LIMITS, ("DNC",)),
    (DncFacts("tenant", NOW - S, expires_at=NOW + S), LIMITS, ("DNC",)),
    (DncFacts("tenant", NOW - S, expires_at=NOW), LIMITS, ()),
    (DncFacts("platform", NOW - timedelta(days=30) + S), replace(LIMITS, dnc_expiry_days=30), ("DNC",)),
    (DncFacts("platform", NOW - timedelta(days=30)), replace(LIMITS, dnc_expiry_days=30), ()),
])
def test_a6_do_not_call(entry, limits, expected):
    assert codes(allowed_facts(dnc=(entry,), limits=limits)) == expected


# --- A7 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("consents, required, expected", [
    ((ConsentFacts(1, NOW - S),), True, ()),
    ((ConsentFacts(1, NOW),), True, ()),
    ((ConsentFacts(1, NOW + S),), True, ("NO_CONSENT",)),  # obtained in the future
    ((), True, ("NO_CONSENT",)),
    ((), False, ()),
    ((ConsentFacts(1, NOW - S, revoked_at=NOW - S),), True, ("NO_CONSENT",)),
    ((ConsentFacts(1, NOW - S, expires_at=NOW),), True, ("NO_CONSENT",)),
    ((ConsentFacts(1, NOW - S, expires_at=NOW + S),), True, ()),
    ((ConsentFacts(1, NOW - S, expires_at=NOW), ConsentFacts(2, NOW - S)), True, ()),
])
def test_a7_consent(consents, required, expected):
    assert codes(allowed_facts(consents=consents, limits=replace(LIMITS, consent_required=required))) == expected


# --- A8 ---------------------------------------------------------------------------------------

def shanghai(text: str) -> datetime:
    """A Shanghai wall-clock time as naive UTC."""
    return datetime.fromisoformat(text) - timedelta(hours=8)


@pytest.mark.parametrize("local, inside", [
    ("2026-11-23 08:59:59", False),
    ("2026-11-23 09:00:00", True),
    ("2026-11-23 11:59:59", True),
    ("2026-11-23 12:00:00", False),
    ("2026-11-23 13:59:59", False),
    ("2026-11-23 14:00:00", True),
    ("2026-11-23 17:59:59", True),
    ("2026-11-23 18:00:00", False),
    ("2026-11-23 00:00:00", False),
])
def test_a8_platform_windows_in_shanghai(local, inside):
    assert codes(now=shanghai(local)) == (() if inside else ("OUTSIDE_CALLING_HOURS",))


@pytest.mark.parametrize("tenant_windows, local, inside", [
    ("10:00-11:00", "2026-11-23 09:30:00", False),
    ("10:00-11:00", "2026-11-23 10:30:00", True),
    ("10:00-11:00", "2026-11-23 11:00:00", False),
    ("08:00-20:00", "2026-11-23 08:30:00", False),  # wider than the platform: intersected
    ("08:00-20:00", "2026-11-23 19:00:00", False),
    ("08:00-20:00", "2026-11-23 15:00:00", True),
    ("garbage", "2026-11-23 10:00:00", False),  # unreadable: fail closed
])
def test_a8_tenant_windows_only_narrow(tenant_windows, local, inside):
    facts = allowed_facts(tenant=tenant(calling_windows=tenant_windows))
    assert codes(facts, now=shanghai(local)) == (() if inside else ("OUTSIDE_CALLING_HOURS",))


@pytest.mark.parametrize("local, holidays, weekends, inside", [
    ("2026-10-01 10:00:00", True, False, False),   # National Day, a Thursday
    ("2026-10-01 10:00:00", False, False, True),   # holidays allowed by default
    ("2026-10-01 10:00:00", False, True, True),    # a holiday on a weekday is not a weekend
    ("2026-10-03 10:00:00", False, True, False),   # Saturday inside the holiday
    ("2026-11-21 10:00:00", False, True, False),   # an ordinary Saturday
    ("2026-11-21 10:00:00", True, False, True),    # Saturdays are not statutory holidays
    ("2026-10-10 10:00:00", True, True, True),     # adjusted working Saturday counts as a workday
    ("2026-11-23 10:00:00", True, True, True),     # ordinary Monday
    ("2027-03-01 10:00:00", True, False, False),   # no calendar data: fail closed
    ("2027-03-01 10:00:00", False, False, True),
])
def test_a8_holidays_and_weekends(local, holidays, weekends, inside):
    limits = replace(LIMITS, block_statutory_holidays=holidays, block_weekends=weekends)
    # only the hours rule is under test; seat and lease validity depend on the date
    assert ("OUTSIDE_CALLING_HOURS" not in codes(allowed_facts(limits=limits), now=shanghai(local))) is inside


US_TWO_ZONES = "+12085550123"  # America/Boise (UTC-7 in November) and America/Los_Angeles (UTC-8)
AU_MOBILE = "+61412345678"  # from Indian/Christmas (UTC+7) to Australia/Sydney (UTC+11 in November)


@pytest.mark.parametrize("number, utc, inside", [
    (US_TWO_ZONES, datetime(2026, 11, 23, 17, 0), True),     # Boise 10:00, Los Angeles 09:00
    (US_TWO_ZONES, datetime(2026, 11, 23, 16, 59, 59), False),  # Los Angeles 08:59:59
    (US_TWO_ZONES, datetime(2026, 11, 23, 18, 59, 59), True),   # Boise 11:59:59
    (US_TWO_ZONES, datetime(2026, 11, 23, 19, 0), False),       # Boise 12:00
    (AU_MOBILE, datetime(2026, 11, 23, 2, 0), False),  # Perth 10:00 but Sydney 13:00
    ("+12015550123", datetime(2026, 11, 23, 15, 0), True),  # New York 10:00
    ("+12015550123", datetime(2026, 11, 23, 2, 0), False),  # New York 21:00 (Shanghai time would allow)
])
def test_a8_foreign_numbers_must_be_inside_in_every_zone(number, utc, inside):
    facts = allowed_facts(callee=callee(number))
    assert ("OUTSIDE_CALLING_HOURS" not in codes(facts, now=utc)) is inside


def test_a8_detail_names_the_zone_that_is_outside():
    decision = decide(request(), allowed_facts(callee=callee(AU_MOBILE)), datetime(2026, 11, 23, 2, 0))
    detail = decision.facts["reason_details"]["OUTSIDE_CALLING_HOURS"]
    assert "Australia/" in detail or "Indian/" in detail


# --- A9 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("tenant_attempts, expected", [
    ((), ()),
    ((NOW - timedelta(hours=1),), ()),  # the 2nd attempt of the day
    ((NOW - timedelta(hours=1), NOW - timedelta(minutes=40)), ("FREQUENCY_LIMIT",)),  # the 3rd
    ((NOW - 29 * MIN,), ("FREQUENCY_LIMIT",)),  # 29 minutes: too soon
    ((NOW - 30 * MIN,), ()),  # 30 minutes: enough
    ((NOW - 30 * MIN + S,), ("FREQUENCY_LIMIT",)),
    ((NOW + MIN,), ("FREQUENCY_LIMIT",)),  # another node's clock ahead: still a recent attempt
    # calendar day in Shanghai: 02:00 UTC is 10:00 local; yesterday 23:59 local does not count today
    ((shanghai("2026-11-22 23:59:59"), shanghai("2026-11-23 09:00:00")), ()),
    ((shanghai("2026-11-23 00:00:00"), shanghai("2026-11-23 09:00:00")), ("FREQUENCY_LIMIT",)),
])
def test_a9_per_tenant_day_and_gap(tenant_attempts, expected):
    assert codes(allowed_facts(tenant_attempts=tenant_attempts)) == expected


def days_ago(*days):
    return tuple(NOW - timedelta(days=d) for d in days)


@pytest.mark.parametrize("tenant_attempts, expected", [
    (days_ago(1, 2, 3, 4), ()),
    (days_ago(1, 2, 3, 4, 6), ("FREQUENCY_LIMIT",)),  # 5 in 7 days
    (days_ago(1, 2, 3, 4, 7), ()),  # exactly 7 days ago no longer counts
    (days_ago(1, 2, 3, 4) + (NOW - timedelta(days=7) + S,), ("FREQUENCY_LIMIT",)),
    (days_ago(8, 9, 10, 11, 12, 13, 14, 15, 16), ()),
    (days_ago(8, 9, 10, 11, 12, 13, 14, 15, 16, 29), ("FREQUENCY_LIMIT",)),  # 10 in 30 days
    (days_ago(8, 9, 10, 11, 12, 13, 14, 15, 16, 30), ()),
])
def test_a9_per_tenant_7_and_30_days(tenant_attempts, expected):
    assert codes(allowed_facts(tenant_attempts=tenant_attempts)) == expected


@pytest.mark.parametrize("global_attempts, expected", [
    (tuple(NOW - timedelta(hours=h) for h in (1, 2, 3, 4)), ()),
    (tuple(NOW - timedelta(hours=h) for h in (1, 2, 3, 4, 23)), ("FREQUENCY_LIMIT",)),  # 5 in 24 h
    (tuple(NOW - timedelta(hours=h) for h in (1, 2, 3, 4, 24)), ()),
    ((NOW - MIN, NOW - 2 * MIN), ()),
    ((NOW - MIN, NOW - 2 * MIN, NOW - 5 * MIN + S), ("FREQUENCY_LIMIT",)),  # 3 in 5 minutes
    ((NOW - MIN, NOW - 2 * MIN, NOW - 5 * MIN), ()),
])
def test_a9_across_tenants(global_attempts, expected):
    assert codes(allowed_facts(global_attempts=global_attempts)) == expected


def test_a9_tenant_caps_are_tightened_not_loosened():
    facts = allowed_facts(tenant_attempts=(NOW - timedelta(hours=2),), limits=replace(LIMITS, freq_tenant_per_day=1))
    assert codes(facts) == ("FREQUENCY_LIMIT",)


# --- A16 --------------------------------------------------------------------------------------

@pytest.mark.parametrize("provinces, number, expected", [
    ((), "+8613800138000", ()),
    (("北京市",), "+8613800138000", ("REGION_RESTRICTED",)),
    (("广东省",), "+8613800138000", ()),
    (("广东省",), "+8675512345678", ("REGION_RESTRICTED",)),
])
def test_a16_restricted_provinces(provinces, number, expected):
    limits = replace(LIMITS, restricted_provinces=frozenset(provinces))
    leases = (lease(), lease(id=12, number="+862087654321", province="广东省", city="广州市"))
    facts = allowed_facts(callee=callee(number), limits=limits, leases=leases)
    assert codes(facts) == expected


def test_limits_default_matches_settings():
    assert Limits() == replace(LIMITS, restricted_industries=frozenset(), restricted_provinces=frozenset())
