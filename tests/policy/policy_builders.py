"""Facts for pure-policy tests: ``allowed_facts()`` is a call that passes every rule; tests change
one thing and look at the outcome. Times are naive UTC; 02:00 UTC is 10:00 in Shanghai."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fs_app.config import load_settings
from fs_app.policy import (
    CallRequest, CampaignFacts, ConsentFacts, Facts, LeaseFacts, SeatFacts, TenantFacts, classify_callee,
    platform_limits,
)

NOW = datetime(2026, 11, 23, 2, 0, 0)  # Monday 10:00 Asia/Shanghai
CALLEE = "+8613800138000"  # 北京市
SETTINGS = load_settings({})
LIMITS = platform_limits(SETTINGS)


def callee(number: str = CALLEE):
    return classify_callee(number, "CN", SETTINGS.emergency_numbers)


def request(**changes) -> CallRequest:
    base = CallRequest(call_uuid="agent-1", dialled=CALLEE, seat_address="1001@acme.example", authenticated=True,
                       campaign_code="spring")
    return replace(base, **changes)


def tenant(**changes) -> TenantFacts:
    base = TenantFacts(id=1, code="acme", status="active", seats_purchased=2, rate_out_fen=10,
                       billing_increment_s=60, balance_fen=10_000)
    return replace(base, **changes)


def seat(**changes) -> SeatFacts:
    base = SeatFacts(id=7, address="1001@acme.example", tenant_id=1, valid_from=NOW - timedelta(days=1),
                     valid_to=NOW + timedelta(days=29))
    return replace(base, **changes)


def lease(id=11, number="+861061234567", province="北京市", city="北京市", **changes) -> LeaseFacts:
    return LeaseFacts(id=id, number=number, province=province, city=city,
                      paid_through=changes.pop("paid_through", NOW + timedelta(days=10)), **changes)


def allowed_facts(**changes) -> Facts:
    base = Facts(
        callee=callee(),
        limits=LIMITS,
        seat=seat(),
        tenant=tenant(),
        campaign=CampaignFacts(id=3, code="spring", status="approved"),
        leases=(lease(),),
        consents=(ConsentFacts(id=5, obtained_at=NOW - timedelta(days=3)),),
    )
    return replace(base, **changes)
