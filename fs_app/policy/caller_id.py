"""Caller ID (A10): which leased number the call presents, or why none may be presented.

A number qualifies when it is leased to the tenant, paid through now (``paid_through > now``),
below its live-call limit (inbound and outbound together) and, for a CN callee when local numbers
are required, registered in the callee's province. Among qualifying numbers: the seat's pinned
number wins; then the same city; then the number least used today; then the lowest number (so
the choice is deterministic). When none qualifies the reason names the first obstacle met on the
way from "has a local number" to "has a free one".

Emergency calls present the pinned number or the tenant's least used lease, paid or not, busy or
not (a callback number matters more than commercial rules), and no number if the tenant has none.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import reasons as R
from .callee import Callee
from .facts import LeaseFacts


@dataclass(frozen=True)
class CallerIdChoice:
    lease: LeaseFacts | None
    code: str | None = None  # failing reason code when lease is None
    detail: str = ""


def _rank(lease: LeaseFacts, callee: Callee, pinned_id: int | None):
    return (lease.id != pinned_id, lease.province != callee.province, lease.city != callee.city,
            lease.used_today, lease.number)


def choose_caller_id(leases, callee: Callee, pinned_id: int | None, now: datetime, *,
                     local_required: bool) -> CallerIdChoice:
    if callee.emergency:
        ranked = sorted(leases, key=lambda lease: (lease.id != pinned_id, lease.used_today, lease.number))
        return CallerIdChoice(ranked[0] if ranked else None)
    if local_required and callee.is_cn:
        local = [lease for lease in leases if callee.province and lease.province == callee.province]
        if not local:
            where = callee.province or "an unknown province"
            return CallerIdChoice(None, R.NO_LOCAL_NUMBER, f"the tenant leases no number in {where}")
    else:
        local = list(leases)
        if not local:
            return CallerIdChoice(None, R.NO_LOCAL_NUMBER, "the tenant leases no number")
    paid = [lease for lease in local if lease.paid_through > now]
    if not paid:
        latest = max(lease.paid_through for lease in local)
        return CallerIdChoice(None, R.NUMBER_LEASE_EXPIRED,
                              f"{len(local)} qualifying number(s), paid through {latest:%Y-%m-%d %H:%M:%S} UTC at the latest")
    free = [lease for lease in paid if lease.live_calls < lease.max_calls]
    if not free:
        return CallerIdChoice(None, R.NUMBER_BUSY,
                              f"{len(paid)} qualifying number(s), each at its live-call limit")
    return CallerIdChoice(min(free, key=lambda lease: _rank(lease, callee, pinned_id)))
