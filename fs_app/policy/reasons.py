"""Reason codes of RULEBOOK part A, with the rule they come from and a human explanation in
English and Chinese. The codes are a contract: they are stored, exported, counted and asserted.
"""
from __future__ import annotations

from dataclasses import dataclass

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

# code: (rule, English, Chinese)
EXPLANATIONS: dict[str, tuple[str, str, str]] = {
    TENANT_NOT_ACTIVE: ("A1", "The tenant is not active (pending review, suspended for rectification or terminated).",
                        "租户不是启用状态（待审核、整改中或已终止）。"),
    TENANT_BANNED: ("A1", "The tenant's account is banned; the ban lapses by itself at its end time.",
                    "租户账号处于封禁期，到期后自动解除。"),
    FUNCTION_BANNED: ("A2/A15", "Outbound calling is banned for this tenant (a complaint-ratio ban waits for an operator's review).",
                      "该租户的外呼功能被封禁（投诉率超限的封禁需运营复核）。"),
    SEAT_UNKNOWN: ("A3", "The calling seat does not exist.", "主叫坐席不存在。"),
    SEAT_EXPIRED: ("A3", "The seat is deactivated or outside its paid validity.", "坐席已停用或不在付费有效期内。"),
    SEAT_BUSY: ("A3", "The seat already has as many live calls as it may.", "该坐席的进行中通话已达上限。"),
    SEAT_LIMIT: ("A3", "The tenant's live outbound calls have reached its purchased seats.",
                 "租户同时外呼数已达到购买的坐席数。"),
    UNAUTHENTICATED: ("A4", "The call did not come from an authenticated SIP identity.",
                      "呼叫未通过 SIP 认证，无法确认坐席身份。"),
    INVALID_NUMBER: ("A5", "The dialled number is not a valid phone number.", "被叫号码不是有效号码。"),
    DNC: ("A6", "The number is on the platform's or the tenant's do-not-call list.", "号码在平台或租户的禁呼名单上。"),
    NO_CONSENT: ("A7", "The tenant holds no valid prior-consent record for the number.",
                 "租户没有该号码有效的事先同意记录。"),
    OUTSIDE_CALLING_HOURS: ("A8", "It is outside the calling hours in the callee's local time.",
                            "按被叫当地时间不在允许的外呼时段内。"),
    FREQUENCY_LIMIT: ("A9", "The number has been called too often or too recently.", "对该号码的呼叫次数或间隔超出限制。"),
    NO_LOCAL_NUMBER: ("A10", "The tenant leases no number it may present to this callee (same province).",
                      "租户没有可向该被叫显示的号码（须与被叫同省）。"),
    NUMBER_LEASE_EXPIRED: ("A10", "The leases of the numbers that qualify are not paid through now.",
                           "符合条件的主叫号码租期已到期（未续费）。"),
    NUMBER_BUSY: ("A10", "Every number that qualifies already carries its maximum of live calls.",
                  "符合条件的主叫号码并发通话数已满。"),
    SCRIPT_NOT_APPROVED: ("A11", "The call has no campaign with an approved call script.", "外呼没有已审核通过话术的活动。"),
    INDUSTRY_RESTRICTED: ("A12", "The tenant is in a restricted industry without the operator's approval.",
                          "租户属于限制行业，尚未获得运营批准。"),
    INSUFFICIENT_BALANCE: ("A13", "The available balance does not pay for one billing increment (plus any connect fee).",
                           "可用余额不足一个计费单位（含接通费）。"),
    AUTODIAL_FORBIDDEN: ("A14", "A call without a seat (automatic dialling) is refused.", "没有坐席的呼叫（自动外呼）被拒绝。"),
    REGION_RESTRICTED: ("A16", "Numbers registered in this province are not called.", "不呼叫归属于该省份的号码。"),
    POLICY_UNAVAILABLE: ("A", "The policy could not be evaluated (database error or timeout); the call is refused.",
                         "无法评估策略（数据库故障或超时），按规则拒绝。"),
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
