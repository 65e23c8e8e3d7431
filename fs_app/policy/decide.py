"""``decide(request, facts, now) -> Decision``: RULEBOOK A1-A16 as one pure function.

No I/O and no clock: ``now`` (naive UTC) is an argument, facts are values. Every rule is
evaluated and every failing reason is returned (in a fixed order, whatever the order of the
rules). The tenant's own limits are applied here, through ``limits.tighten``, so a tenant value
can never loosen a platform value whoever built the facts.

Emergency short codes (A5) are never blocked by commercial policy and never billed: only the
identity rules (A4, A14, an unknown seat) apply, because the call must still be attributable to
a seat and a tenant to be recorded. Their caller ID is explained in ``caller_id``.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from domain.rating import affordable_seconds, minimum_charge
from domain.windows import format_windows, parse_windows

from .caller_id import choose_caller_id
from .decision import Decision
from .facts import Facts, TenantFacts
from .hours import local_time
from .limits import Limits, tighten
from .reasons import ALL_CODES
from .request import CallRequest
from .rules import ALL_RULES, COMMERCIAL_RULES, IDENTITY_RULES, ban_in_force

_ORDER = {code: index for index, code in enumerate(ALL_CODES)}


def tenant_overrides(tenant: TenantFacts | None) -> dict:
    """The tenant's own limits; an unreadable stored value fails closed (no calling window)."""
    if tenant is None or not tenant.calling_windows.strip():
        return {}
    try:
        return {"windows": parse_windows(tenant.calling_windows)}
    except ValueError:
        return {"windows": ()}


def effective_limits(facts: Facts) -> Limits:
    return tighten(facts.limits, tenant_overrides(facts.tenant))


def decide(request: CallRequest, facts: Facts, now: datetime, rules: Iterable = None) -> Decision:
    limits = effective_limits(facts)
    emergency = facts.callee.emergency
    if rules is None:
        rules = IDENTITY_RULES if emergency else ALL_RULES
    elif emergency:
        rules = [rule for rule in rules if rule not in COMMERCIAL_RULES]
    found = {}
    for rule in rules:
        for reason in rule(request, facts, now, limits):
            found.setdefault(reason.code, reason)
    reasons = tuple(sorted(found.values(), key=lambda r: _ORDER[r.code]))
    allowed = not reasons
    tenant, seat, campaign = facts.tenant, facts.seat, facts.campaign
    recording_banned = any(b.function == "recording" and ban_in_force(b, now) for b in facts.bans)

    caller = None
    max_duration = None
    hold = 0
    if allowed:
        choice = choose_caller_id(facts.leases, facts.callee, seat.pinned_lease_id if seat else None, now,
                                  local_required=limits.caller_id_local_required)
        caller = choice.lease
        if not emergency:
            hold = minimum_charge(tenant.rate_out_fen, tenant.billing_increment_s, tenant.connect_fee_fen)
            max_duration = affordable_seconds(facts.available_fen, tenant.rate_out_fen, tenant.billing_increment_s,
                                              tenant.connect_fee_fen)
    return Decision(
        allowed=allowed,
        reasons=reasons,
        caller_id=caller.number if caller else None,
        caller_lease_id=caller.id if caller else None,
        max_duration_s=max_duration,
        hold_fen=hold,
        billable=not emergency,
        emergency=emergency,
        record_allowed=bool(campaign and campaign.record and not recording_banned and not emergency),
        callee=facts.callee.e164 or (facts.callee.dialled if emergency else ""),
        tenant_id=tenant.id if tenant else None,
        seat_id=seat.id if seat else None,
        campaign_id=campaign.id if campaign else None,
        facts=summarize(facts, now, limits, reasons),
    )


def summarize(facts: Facts, now: datetime, limits: Limits, reasons) -> dict:
    """What the decision looked at, small enough to store with every call record."""
    callee = facts.callee
    summary = {
        "now": now.isoformat() + "Z",
        "callee": {"dialled": callee.dialled, "e164": callee.e164, "emergency": callee.emergency,
                   "province": callee.province, "city": callee.city, "zones": list(callee.zones),
                   "local_times": [local_time(now, z).isoformat() for z in callee.zones]},
        "windows": format_windows(limits.windows),
        "reason_details": {r.code: r.detail for r in reasons},
    }
    if facts.tenant is not None:
        t = facts.tenant
        summary["tenant"] = {"code": t.code, "status": t.status, "industry": t.industry,
                             "industry_approved": t.industry_approved, "seats_purchased": t.seats_purchased,
                             "balance_fen": t.balance_fen, "held_fen": facts.held_fen,
                             "available_fen": facts.available_fen, "rate_out_fen": t.rate_out_fen,
                             "connect_fee_fen": t.connect_fee_fen, "billing_increment_s": t.billing_increment_s}
        summary["bans"] = [{"function": b.function, "until": b.until.isoformat() + "Z" if b.until else None}
                           for b in facts.bans if ban_in_force(b, now)]
        summary["live"] = {"seat": facts.seat_live_calls, "tenant_outbound": facts.tenant_live_outbound}
        summary["campaign"] = ({"code": facts.campaign.code, "status": facts.campaign.status}
                               if facts.campaign else None)
        summary["consents"] = len(facts.consents)
        summary["leases"] = [{"number": lease.number, "province": lease.province, "city": lease.city,
                              "paid_through": lease.paid_through.isoformat() + "Z", "live": lease.live_calls,
                              "max": lease.max_calls, "used_today": lease.used_today} for lease in facts.leases]
        summary["attempts_tenant_30d"] = len(facts.tenant_attempts)
    summary["dnc"] = sorted({entry.scope for entry in facts.dnc})
    summary["attempts_all_24h"] = len(facts.global_attempts)
    if facts.debug:
        summary["debug"] = dict(facts.debug)
    return summary
