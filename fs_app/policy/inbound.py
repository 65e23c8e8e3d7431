"""Admission of inbound calls to leased numbers (RULEBOOK A1, A2 inbound ban, A10, A13 at the
inbound rate): a pure decision over plain facts, like ``decide`` for outbound calls."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.rating import minimum_charge

from . import reasons as R
from .facts import BanFacts
from .reasons import Reason
from .rules import ban_in_force


@dataclass(frozen=True)
class InboundFacts:
    did: str  # the dialled number as E.164 ("" when it is not a valid number)
    lease_id: int | None = None  # the unreleased lease of the number, if any
    paid_through: datetime | None = None
    tenant_id: int | None = None
    tenant_code: str = ""
    tenant_status: str = ""
    bans: tuple[BanFacts, ...] = ()
    available_fen: int = 0  # balance minus live holds
    rate_in_fen: int = 0
    increment_s: int = 60
    connect_fee_fen: int = 0


@dataclass(frozen=True)
class InboundDecision:
    allowed: bool
    reasons: tuple[Reason, ...] = ()
    record_allowed: bool = False  # False under a recording ban (A2: the call goes ahead unrecorded)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def decide_inbound(facts: InboundFacts, now: datetime) -> InboundDecision:
    """Every failing reason; the number's live-call limit (A10) is checked when the slot is taken."""
    if not facts.did:
        return InboundDecision(False, (Reason(R.INVALID_NUMBER, "the dialled number is not valid"),))
    if facts.lease_id is None:
        return InboundDecision(False, (Reason(R.NUMBER_LEASE_EXPIRED, f"{facts.did} is not leased"),))
    found: list[Reason] = []
    if facts.paid_through is None or facts.paid_through <= now:
        found.append(Reason(R.NUMBER_LEASE_EXPIRED, f"{facts.did} is not paid through now"))
    if facts.tenant_status != "active":
        found.append(Reason(R.TENANT_NOT_ACTIVE, f"tenant {facts.tenant_code} is {facts.tenant_status}"))
    bans = {b.function for b in facts.bans if ban_in_force(b, now)}
    if "account" in bans:
        found.append(Reason(R.TENANT_BANNED, "account banned"))
    if "inbound" in bans:
        found.append(Reason(R.FUNCTION_BANNED, "inbound calls banned"))
    needed = minimum_charge(facts.rate_in_fen, facts.increment_s, facts.connect_fee_fen)
    if needed > 0 and facts.available_fen < needed:
        found.append(Reason(R.INSUFFICIENT_BALANCE, f"{facts.available_fen} fen available, {needed} needed"))
    return InboundDecision(not found, tuple(found), record_allowed="recording" not in bans)
