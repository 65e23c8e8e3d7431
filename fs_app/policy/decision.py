"""The outcome of ``decide``: every failing reason, the caller ID and the money side of the call."""
from __future__ import annotations

from dataclasses import dataclass, field

from .reasons import Reason


@dataclass(frozen=True)
class Decision:
    """``allowed`` is True exactly when ``reasons`` is empty.

    caller_id / caller_lease_id: the leased number to present (None when blocked, or for an
        emergency call of a tenant without numbers).
    max_duration_s: talk time the available balance buys in whole billing increments; None when
        time is not limited by money (zero rate, or an emergency call).
    hold_fen: what the reservation holds at admission, the minimum charge (first increment plus
        connect fee); 0 for emergency calls.
    billable: False for emergency calls (A5: never billed).
    record_allowed: False when the tenant's recording function is banned (A2: the call goes ahead
        unrecorded) or the campaign does not record.
    """

    allowed: bool
    reasons: tuple[Reason, ...] = ()
    caller_id: str | None = None
    caller_lease_id: int | None = None
    max_duration_s: int | None = None
    hold_fen: int = 0
    billable: bool = True
    emergency: bool = False
    record_allowed: bool = False
    callee: str = ""  # E.164, or the short code of an emergency call
    tenant_id: int | None = None
    seat_id: int | None = None
    campaign_id: int | None = None
    facts: dict = field(default_factory=dict, compare=False)  # summary for the call record

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed, "reasons": [r.as_dict() for r in self.reasons],
            "caller_id": self.caller_id, "max_duration_s": self.max_duration_s, "hold_fen": self.hold_fen,
            "billable": self.billable, "emergency": self.emergency, "record_allowed": self.record_allowed,
            "callee": self.callee, "facts": self.facts,
        }
