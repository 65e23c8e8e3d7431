"""The pure admission policy (RULEBOOK part A): ``decide(request, facts, now) -> Decision``.

Everything here is pure except ``loader``, which reads the facts from the database.
"""
from .callee import Callee, classify_callee
from .decide import decide, effective_limits
from .decision import Decision
from .facts import (
    BanFacts, CampaignFacts, ConsentFacts, DncFacts, Facts, LeaseFacts, SeatFacts, TenantFacts,
)
from .limits import Limits, platform_limits, tighten
from .reasons import Reason
from .request import CallRequest, seat_identity

__all__ = [
    "BanFacts", "CallRequest", "Callee", "CampaignFacts", "ConsentFacts", "Decision", "DncFacts", "Facts",
    "LeaseFacts", "Limits", "Reason", "SeatFacts", "TenantFacts", "classify_callee", "decide",
    "effective_limits", "platform_limits", "seat_identity", "tighten",
]
