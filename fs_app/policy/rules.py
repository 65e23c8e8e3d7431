"""The rules of RULEBOOK part A, one function each: (request, facts, now, limits) -> [Reason].

Every rule reads only its arguments, so the rules are independent of one another and of their
order. Rules that need the tenant return nothing when no seat (hence no tenant) was identified;
identity rules report that case. ``limits`` are the effective limits (platform tightened by the
tenant, see ``decide``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from domain.rating import minimum_charge

from . import reasons as R
from .caller_id import choose_caller_id
from .facts import Facts
from .frequency import frequency_problems
from .hours import outside_hours
from .limits import Limits
from .reasons import Reason
from .request import CallRequest


def ban_in_force(ban, now: datetime) -> bool:
    """A ban ending exactly now is no longer in force (it lapses by itself, A1/A2)."""
    return ban.until is None or ban.until > now


def identity(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    found = []
    if not request.seat_address:
        found.append(Reason(R.AUTODIAL_FORBIDDEN, "the call has no seat"))
    if not request.authenticated:
        found.append(Reason(R.UNAUTHENTICATED, f"claimed seat {request.seat_address or '(none)'} is not authenticated"))
    elif request.seat_address and facts.seat is None:
        found.append(Reason(R.SEAT_UNKNOWN, f"no seat {request.seat_address}"))
    return found


def seat(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    s, tenant = facts.seat, facts.tenant
    if s is None or tenant is None:
        return []
    found = []
    if not s.active:
        found.append(Reason(R.SEAT_EXPIRED, f"seat {s.address} is deactivated"))
    elif now < s.valid_from:
        found.append(Reason(R.SEAT_EXPIRED, f"seat {s.address} is valid from {s.valid_from:%Y-%m-%d %H:%M:%S} UTC"))
    elif s.valid_to <= now:
        found.append(Reason(R.SEAT_EXPIRED, f"seat {s.address} was paid through {s.valid_to:%Y-%m-%d %H:%M:%S} UTC"))
    if facts.seat_live_calls >= limits.seat_max_calls:
        found.append(Reason(R.SEAT_BUSY, f"{facts.seat_live_calls} live call(s) on the seat (limit {limits.seat_max_calls})"))
    if facts.tenant_live_outbound >= tenant.seats_purchased:
        found.append(Reason(R.SEAT_LIMIT, f"{facts.tenant_live_outbound} live outbound call(s), "
                                          f"{tenant.seats_purchased} seat(s) purchased"))
    return found


def tenant_state(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    tenant = facts.tenant
    if tenant is None:
        return []
    found = []
    if tenant.status != "active":
        found.append(Reason(R.TENANT_NOT_ACTIVE, f"tenant {tenant.code} is {tenant.status}"))
    bans = [b for b in facts.bans if ban_in_force(b, now)]
    for function, code in (("account", R.TENANT_BANNED), ("outbound", R.FUNCTION_BANNED)):
        matching = [b for b in bans if b.function == function]
        if matching:
            ends = [b.until for b in matching]
            until = "until an operator lifts it" if None in ends else f"until {max(ends):%Y-%m-%d %H:%M:%S} UTC"
            found.append(Reason(code, f"{function} banned {until}"))
    return found


def number(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.callee.e164 is None:
        return [Reason(R.INVALID_NUMBER, f"{facts.callee.dialled!r} is not a valid number")]
    return []


def do_not_call(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.callee.e164 is None:
        return []
    scopes = sorted({entry.scope for entry in facts.dnc if _dnc_in_force(entry, now, limits)})
    if scopes:
        return [Reason(R.DNC, f"{facts.callee.e164} is on the {' and '.join(scopes)} do-not-call list")]
    return []


def _dnc_in_force(entry, now: datetime, limits: Limits) -> bool:
    if entry.expires_at is not None and entry.expires_at <= now:
        return False
    if limits.dnc_expiry_days and entry.created_at + timedelta(days=limits.dnc_expiry_days) <= now:
        return False
    return True


def consent(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.tenant is None or facts.callee.e164 is None or not limits.consent_required:
        return []
    valid = [c for c in facts.consents
             if c.revoked_at is None and c.obtained_at <= now and (c.expires_at is None or c.expires_at > now)]
    if not valid:
        return [Reason(R.NO_CONSENT, f"tenant {facts.tenant.code} holds no valid consent for {facts.callee.e164}")]
    return []


def calling_hours(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.callee.e164 is None:
        return []
    problem = outside_hours(now, facts.callee.zones, limits.windows, cn=facts.callee.is_cn,
                            block_holidays=limits.block_statutory_holidays, block_weekends=limits.block_weekends)
    return [Reason(R.OUTSIDE_CALLING_HOURS, problem)] if problem else []


def frequency(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.callee.e164 is None:
        return []
    own = facts.tenant_attempts if facts.tenant is not None else None
    problems = frequency_problems(own, facts.global_attempts, now, facts.callee.zones, limits)
    return [Reason(R.FREQUENCY_LIMIT, "; ".join(problems))] if problems else []


def caller_id(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.tenant is None or facts.callee.e164 is None:
        return []
    choice = choose_caller_id(facts.leases, facts.callee, facts.seat.pinned_lease_id if facts.seat else None, now,
                              local_required=limits.caller_id_local_required)
    return [Reason(choice.code, choice.detail)] if choice.code else []


def script(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    if facts.tenant is None:
        return []
    campaign = facts.campaign
    if campaign is None:
        if request.campaign_code:
            return [Reason(R.SCRIPT_NOT_APPROVED, f"tenant {facts.tenant.code} has no campaign {request.campaign_code!r}")]
        return [Reason(R.SCRIPT_NOT_APPROVED, "no campaign given and the seat has no default campaign")]
    if campaign.status != "approved":
        return [Reason(R.SCRIPT_NOT_APPROVED, f"campaign {campaign.code} script is {campaign.status}")]
    return []


def industry(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    tenant = facts.tenant
    if tenant is None or tenant.industry not in limits.restricted_industries or tenant.industry_approved:
        return []
    return [Reason(R.INDUSTRY_RESTRICTED, f"industry {tenant.industry} needs the operator's approval")]


def balance(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    tenant = facts.tenant
    if tenant is None:
        return []
    need = minimum_charge(tenant.rate_out_fen, tenant.billing_increment_s, tenant.connect_fee_fen)
    available = facts.available_fen
    if available < need:
        return [Reason(R.INSUFFICIENT_BALANCE, f"available {available} fen (balance {tenant.balance_fen}, "
                                               f"held {facts.held_fen}), one increment needs {need} fen")]
    return []


def region(request: CallRequest, facts: Facts, now: datetime, limits: Limits) -> list[Reason]:
    callee = facts.callee
    if callee.e164 is None or not callee.is_cn or callee.province not in limits.restricted_provinces:
        return []
    return [Reason(R.REGION_RESTRICTED, f"{callee.province} is a restricted province")]


COMMERCIAL_RULES = (seat, tenant_state, number, do_not_call, consent, calling_hours, frequency, caller_id,
                    script, industry, balance, region)
IDENTITY_RULES = (identity,)
ALL_RULES = IDENTITY_RULES + COMMERCIAL_RULES
