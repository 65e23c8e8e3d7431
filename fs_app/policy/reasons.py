"""Reason codes of RULEBOOK part A, with the rule they come from and a human explanation in
English and Chinese. The codes are a contract: they are stored, exported, counted and asserted.
"""
from __future__ import annotations

from dataclasses import dataclass

from domain.reasons import REASONS

TENANT_NOT_ACTIVE = "TENANT_NOT_ACTIVE"
TENANT_BANNED = "TENANT_BANNED"
FUNCTION_BANNED = "FUNCTION_BANNED"
SEAT_UNKNOWN = "SEAT_UNKNOWN"
SEAT_EXPIRED = "SEAT_EXPIRED"
SEAT_BUSY = "SEAT_BUSY"
SEAT_LIMIT = "SEAT_LIMIT"
UNAUTHENTICATED = "UNAUTHENTICATED"
INVALID_NUMBER = "INVALID_NUMBER"
DNC = "DNC"
NO_CONSENT = "NO_CONSENT"
OUTSIDE_CALLING_HOURS = "OUTSIDE_CALLING_HOURS"
FREQUENCY_LIMIT = "FREQUENCY_LIMIT"
NO_LOCAL_NUMBER = "NO_LOCAL_NUMBER"
NUMBER_LEASE_EXPIRED = "NUMBER_LEASE_EXPIRED"
NUMBER_BUSY = "NUMBER_BUSY"
SCRIPT_NOT_APPROVED = "SCRIPT_NOT_APPROVED"
INDUSTRY_RESTRICTED = "INDUSTRY_RESTRICTED"
INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
AUTODIAL_FORBIDDEN = "AUTODIAL_FORBIDDEN"
REGION_RESTRICTED = "REGION_RESTRICTED"
POLICY_UNAVAILABLE = "POLICY_UNAVAILABLE"

# code: (rule, English, Chinese); the texts live in domain.reasons, shared with the admin
EXPLANATIONS: dict[str, tuple[str, str, str]] = {
    code: (text.rule, text.explanation_en, text.explanation_zh) for code, text in REASONS.items()
}

ALL_CODES = tuple(EXPLANATIONS)


@dataclass(frozen=True)
class Reason:
    """One failing rule: its code and what exactly failed (English, with the numbers involved)."""

    code: str
    detail: str = ""

    def __post_init__(self):
        if self.code not in EXPLANATIONS:
            raise ValueError(f"unknown reason code {self.code!r}")

    @property
    def rule(self) -> str:
        return EXPLANATIONS[self.code][0]

    @property
    def explanation_en(self) -> str:
        return EXPLANATIONS[self.code][1]

    @property
    def explanation_zh(self) -> str:
        return EXPLANATIONS[self.code][2]

    def as_dict(self) -> dict:
        return {"code": self.code, "rule": self.rule, "detail": self.detail,
                "explanation": self.explanation_en, "explanation_zh": self.explanation_zh}
