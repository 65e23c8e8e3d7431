"""Properties of decide over generated facts: monotone in restrictions, tenant limits only
tighten, reasons independent of rule order."""
import random
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings, strategies as st

from fs_app.policy import BanFacts, CampaignFacts, ConsentFacts, DncFacts, decide
from fs_app.policy.limits import intersect_windows, is_at_least_as_strict, tighten
from fs_app.policy.rules import ALL_RULES
from domain.windows import format_windows

from policy_builders import LIMITS, NOW, allowed_facts, callee, lease, request, seat, tenant

PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

offsets = st.integers(min_value=-40 * 24 * 60, max_value=3 * 24 * 60).map(lambda m: NOW + timedelta(minutes=m))
optional_offsets = st.none() | offsets
windows = st.lists(st.tuples(st.integers(0, 23 * 60), st.integers(1, 180)), min_size=1, max_size=3).map(
    lambda pairs: tuple((s, min(s + d, 24 * 60)) for s, d in pairs))


def _disjoint(ws):
    merged = []
    for start, end in sorted(ws):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


@st.composite
def scenarios(draw):
    number = draw(st.sampled_from(["+8613800138000", "+8675512345678", "+12085550123", "110", "12345"]))
    facts = allowed_facts(
        callee=callee(number),
        tenant=tenant(
            status=draw(st.sampled_from(["active", "active", "suspended"])),
            balance_fen=draw(st.integers(-20, 200)), rate_out_fen=draw(st.integers(0, 30)),
            connect_fee_fen=draw(st.integers(0, 10)), seats_purchased=draw(st.integers(0, 3)),
            industry=draw(st.sampled_from(["", "loans"])), industry_approved=draw(st.booleans()),
            calling_windows=draw(st.sampled_from(["", "10:00-11:00", "08:00-20:00", "09:30-17:00"]))),
        seat=seat(valid_to=draw(offsets), pinned_lease_id=draw(st.sampled_from([None, 1, 2]))),
        campaign=draw(st.sampled_from([None, CampaignFacts(3, "c", "approved"), CampaignFacts(3, "c", "review")])),
        bans=tuple(BanFacts(f, u) for f, u in draw(st.lists(
            st.tuples(st.sampled_from(["account", "outbound", "inbound", "recording"]), optional_offsets), max_size=2))),
        leases=tuple(draw(st.lists(st.builds(
            lambda i, prov, paid, live, used: lease(i, f"+86106123456{i}", province=prov, city=prov, paid_through=paid,
                                                     live_calls=live, used_today=used),
            st.integers(1, 4), st.sampled_from(["北京市", "广东省"]), offsets, st.integers(0, 1), st.integers(0, 5)),
            max_size=3, unique_by=lambda x: x.id))),
        consents=tuple(ConsentFacts(i, o, e) for i, (o, e) in enumerate(draw(st.lists(
            st.tuples(offsets, optional_offsets), max_size=2)))),
        dnc=tuple(DncFacts(s, c, e) for s, c, e in draw(st.lists(
            st.tuples(st.sampled_from(["platform", "tenant"]), offsets, optional_offsets), max_size=1))),
        tenant_attempts=tuple(draw(st.lists(offsets, max_size=4))),
        global_attempts=tuple(draw(st.lists(offsets, max_size=5))),
        seat_live_calls=draw(st.integers(0, 2)),
        tenant_live_outbound=draw(st.integers(0, 3)),
        held_fen=draw(st.integers(0, 50)),
    )
    now = NOW + timedelta(minutes=draw(st.integers(-12 * 60, 12 * 60)))
    req = request(dialled=number)
    return req, facts, now


@PROFILE
@given(scenarios(), st.sampled_from(["platform", "tenant"]), optional_offsets)
def test_adding_a_dnc_entry_never_allows_a_blocked_call(scenario, scope, expires):
    req, facts, now = scenario
    before = decide(req, facts, now)
    after = decide(req, replace(facts, dnc=facts.dnc + (DncFacts(scope, now - timedelta(days=1), expires),)), now)
    assert set(before.codes) <= set(after.codes)
    assert not (after.allowed and not before.allowed)


@PROFILE
@given(scenarios(), st.sampled_from(["account", "outbound", "inbound", "recording"]), optional_offsets)
def test_adding_a_ban_never_allows_a_blocked_call(scenario, function, until):
    req, facts, now = scenario
    before = decide(req, facts, now)
    after = decide(req, replace(facts, bans=facts.bans + (BanFacts(function, until),)), now)
    assert set(before.codes) <= set(after.codes)
    assert not (after.allowed and not before.allowed)
    if after.allowed:
        assert after.record_allowed <= before.record_allowed


@PROFILE
@given(scenarios(), windows)
def test_tenant_windows_never_allow_what_the_platform_blocks(scenario, tenant_windows):
    req, facts, now = scenario
    platform_only = replace(facts, tenant=replace(facts.tenant, calling_windows=""))
    with_tenant = replace(facts, tenant=replace(facts.tenant, calling_windows=format_windows(_disjoint(tenant_windows))))
    before = decide(req, platform_only, now)
    after = decide(req, with_tenant, now)
    assert set(before.codes) <= set(after.codes)


caps = st.integers(0, 50)


@PROFILE
@given(st.fixed_dictionaries({}, optional={
    "seat_max_calls": caps, "freq_tenant_per_day": caps, "freq_tenant_per_7_days": caps,
    "freq_tenant_per_30_days": caps, "freq_tenant_min_gap_minutes": caps, "freq_global_per_24_hours": caps,
    "freq_global_per_5_minutes": caps, "block_statutory_holidays": st.booleans(), "block_weekends": st.booleans(),
    "consent_required": st.booleans(), "caller_id_local_required": st.booleans(), "dnc_expiry_days": caps,
    "restricted_industries": st.frozensets(st.sampled_from(["loans", "news", "retail"])),
    "restricted_provinces": st.frozensets(st.sampled_from(["北京市", "广东省"])),
    "windows": windows.map(_disjoint),
}), st.sampled_from([LIMITS, replace(LIMITS, dnc_expiry_days=30, consent_required=False, seat_max_calls=3)]))
def test_tenant_limits_never_loosen_platform_limits(tenant_values, platform):
    effective = tighten(platform, tenant_values)
    assert is_at_least_as_strict(effective, platform)
    assert intersect_windows(effective.windows, platform.windows) == effective.windows


@PROFILE
@given(scenarios(), st.randoms(use_true_random=False))
def test_reasons_do_not_depend_on_rule_order(scenario, rnd: random.Random):
    req, facts, now = scenario
    shuffled = list(ALL_RULES)
    rnd.shuffle(shuffled)
    reference = decide(req, facts, now)
    reordered = decide(req, facts, now, rules=shuffled)
    assert reordered.codes == reference.codes
    assert reordered.caller_id == reference.caller_id and reordered.max_duration_s == reference.max_duration_s
    assert reordered.allowed == (not reordered.reasons)


def test_scenarios_reach_both_outcomes():
    """The generator is useful only if it produces allowed and blocked calls."""
    outcomes = set()

    @settings(max_examples=300, deadline=None)
    @given(scenarios())
    def collect(scenario):
        outcomes.add(decide(*scenario).allowed)

    collect()
    assert outcomes == {True, False}
