"""A1-A4, A14: tenant state, bans, seats and identity, both sides of every edge."""
from dataclasses import replace
from datetime import timedelta

import pytest

from fs_app.policy import BanFacts, decide, seat_identity
from fs_app.policy.limits import Limits

from policy_builders import NOW, allowed_facts, request, seat, tenant

S = timedelta(seconds=1)


def codes(facts=None, req=None, now=NOW):
    return decide(req or request(), facts or allowed_facts(), now).codes


def test_baseline_is_allowed():
    decision = decide(request(), allowed_facts(), NOW)
    assert decision.allowed and decision.codes == ()
    assert decision.caller_id == "+861061234567"


@pytest.mark.parametrize("status, expected", [
    ("active", ()),
    ("pending_review", ("TENANT_NOT_ACTIVE",)),
    ("suspended", ("TENANT_NOT_ACTIVE",)),
    ("terminated", ("TENANT_NOT_ACTIVE",)),
])
def test_a1_tenant_status(status, expected):
    assert codes(allowed_facts(tenant=tenant(status=status))) == expected


@pytest.mark.parametrize("function, until, expected", [
    ("account", None, ("TENANT_BANNED",)),
    ("account", NOW + S, ("TENANT_BANNED",)),
    ("account", NOW, ()),  # a ban ending exactly now is no longer in force
    ("account", NOW - S, ()),
    ("outbound", None, ("FUNCTION_BANNED",)),
    ("outbound", NOW + S, ("FUNCTION_BANNED",)),
    ("outbound", NOW, ()),
    ("inbound", None, ()),  # does not concern outbound calls
    ("recording", None, ()),  # calls go ahead, unrecorded
])
def test_a1_a2_bans_lapse_by_themselves(function, until, expected):
    assert codes(allowed_facts(bans=(BanFacts(function, until),))) == expected


@pytest.mark.parametrize("until, recorded", [(None, False), (NOW + S, False), (NOW, True)])
def test_a2_recording_ban_means_unrecorded_not_blocked(until, recorded):
    decision = decide(request(), allowed_facts(bans=(BanFacts("recording", until),)), NOW)
    assert decision.allowed
    assert decision.record_allowed is recorded


@pytest.mark.parametrize("changes, expected", [
    ({}, ()),
    ({"active": False}, ("SEAT_EXPIRED",)),
    ({"valid_from": NOW}, ()),
    ({"valid_from": NOW + S}, ("SEAT_EXPIRED",)),
    ({"valid_to": NOW + S}, ()),
    ({"valid_to": NOW}, ("SEAT_EXPIRED",)),  # paid through exactly now: no longer valid
])
def test_a3_seat_validity(changes, expected):
    assert codes(allowed_facts(seat=seat(**changes))) == expected


@pytest.mark.parametrize("seat_max, seat_live, expected", [
    (1, 0, ()),
    (1, 1, ("SEAT_BUSY",)),
    (2, 1, ()),
    (2, 2, ("SEAT_BUSY",)),
])
def test_a3_seat_busy(seat_max, seat_live, expected):
    facts = allowed_facts(limits=Limits(seat_max_calls=seat_max), seat_live_calls=seat_live,
                          tenant=tenant(seats_purchased=5))
    assert codes(facts) == expected


@pytest.mark.parametrize("purchased, live, expected", [
    (3, 2, ()),
    (3, 3, ("SEAT_LIMIT",)),
    (3, 4, ("SEAT_LIMIT",)),
    (0, 0, ("SEAT_LIMIT",)),
])
def test_a3_tenant_live_outbound_at_most_purchased_seats(purchased, live, expected):
    assert codes(allowed_facts(tenant=tenant(seats_purchased=purchased), tenant_live_outbound=live)) == expected


def test_a3_unknown_seat_reports_what_can_be_checked_without_a_tenant():
    facts = allowed_facts(seat=None, tenant=None, campaign=None, leases=(), consents=())
    assert codes(facts) == ("SEAT_UNKNOWN",)
    late = NOW + timedelta(hours=6)  # 16:00 local, inside the afternoon window
    assert codes(facts, now=late) == ("SEAT_UNKNOWN",)
    night = NOW + timedelta(hours=12)  # 22:00 local
    assert codes(facts, now=night) == ("SEAT_UNKNOWN", "OUTSIDE_CALLING_HOURS")


@pytest.mark.parametrize("req_changes, expected", [
    ({"authenticated": False}, ("UNAUTHENTICATED",)),
    ({"seat_address": ""}, ("AUTODIAL_FORBIDDEN",)),
    ({"seat_address": "", "authenticated": False}, ("UNAUTHENTICATED", "AUTODIAL_FORBIDDEN")),
])
def test_a4_a14_identity(req_changes, expected):
    # Without an authenticated seat the loader has no seat or tenant to give.
    facts = allowed_facts(seat=None, tenant=None, campaign=None)
    assert set(codes(facts, request(**req_changes))) == set(expected)


@pytest.mark.parametrize("kwargs, expected", [
    (dict(auth_user="1001", auth_realm="Acme.Example"), ("1001@acme.example", True)),
    (dict(auth_user="1001", auth_realm="acme.example", from_user="2002", from_host="x", trust_from_header=True),
     ("1001@acme.example", True)),
    (dict(from_user="1001", from_host="acme.example"), ("1001@acme.example", False)),
    (dict(from_user="1001", from_host="acme.example", trust_from_header=True), ("1001@acme.example", True)),
    (dict(), ("", False)),
    (dict(trust_from_header=True), ("", False)),
])
def test_a4_identity_comes_from_sip_auth_unless_the_header_is_trusted(kwargs, expected):
    assert seat_identity(**kwargs) == expected


def test_every_failing_reason_is_returned_not_only_the_first():
    facts = allowed_facts(
        tenant=tenant(status="suspended", balance_fen=0, industry="loans"),
        seat=seat(valid_to=NOW), bans=(BanFacts("outbound", None),), consents=(), campaign=None,
        seat_live_calls=1, leases=(),
    )
    assert set(codes(facts)) == {
        "TENANT_NOT_ACTIVE", "FUNCTION_BANNED", "SEAT_EXPIRED", "SEAT_BUSY", "NO_CONSENT", "NO_LOCAL_NUMBER",
        "SCRIPT_NOT_APPROVED", "INDUSTRY_RESTRICTED", "INSUFFICIENT_BALANCE",
    }
    decision = decide(request(), facts, NOW)
    assert not decision.allowed and decision.caller_id is None and decision.max_duration_s is None
    assert set(decision.facts["reason_details"]) == set(decision.codes)


def test_seat_unknown_is_reported_with_an_address_only_when_authenticated():
    facts = replace(allowed_facts(), seat=None, tenant=None)
    assert "SEAT_UNKNOWN" in codes(facts)
    assert "SEAT_UNKNOWN" not in codes(facts, request(authenticated=False))
