"""Reason codes of RULEBOOK part A and what they mean, in Chinese and English.

The codes are a contract: they are stored in call records and shown, exported, counted and
asserted everywhere, so their texts live here once, for the policy, the CLI and the admin alike.
"""
from __future__ import annotations

from typing import NamedTuple


class ReasonText(NamedTuple):
    rule: str
    label_zh: str
    label_en: str
    explanation_zh: str
    explanation_en: str


REASONS: dict[str, ReasonText] = {
    "TENANT_NOT_ACTIVE": ReasonText(
        "A1", "租户未启用", "Tenant not active",
        "租户不是启用状态（待审核、整改中或已终止）。",
        "The tenant is not active (pending review, suspended for rectification or terminated)."),
    "TENANT_BANNED": ReasonText(
        "A1", "租户被封禁", "Tenant banned",
        "租户账号处于封禁期，到期后自动解除。",
        "The tenant's account is banned; the ban lapses by itself at its end time."),
    "FUNCTION_BANNED": ReasonText(
        "A2/A15", "功能被封禁", "Function banned",
        "该租户的外呼功能被封禁（投诉率超限的封禁需运营复核）。",
        "Outbound calling is banned for this tenant (a complaint-ratio ban waits for an operator's review)."),
    "SEAT_UNKNOWN": ReasonText(
        "A3", "坐席不存在", "Unknown seat",
        "主叫坐席不存在。",
        "The calling seat does not exist."),
    "SEAT_EXPIRED": ReasonText(
        "A3", "坐席已过期", "Seat expired",
        "坐席已停用或不在付费有效期内。",
        "The seat is deactivated or outside its paid validity."),
    "SEAT_BUSY": ReasonText(
        "A3", "坐席忙", "Seat busy",
        "该坐席的进行中通话已达上限。",
        "The seat already has as many live calls as it may."),
    "SEAT_LIMIT": ReasonText(
        "A3", "超出坐席数", "Seat limit",
        "租户同时外呼数已达到购买的坐席数。",
        "The tenant's live outbound calls have reached its purchased seats."),
    "UNAUTHENTICATED": ReasonText(
        "A4", "未认证", "Unauthenticated",
        "呼叫未通过 SIP 认证，无法确认坐席身份。",
        "The call did not come from an authenticated SIP identity."),
    "INVALID_NUMBER": ReasonText(
        "A5", "号码无效", "Invalid number",
        "被叫号码不是有效号码。",
        "The dialled number is not a valid phone number."),
    "DNC": ReasonText(
        "A6", "禁呼名单", "Do-not-call list",
        "号码在平台或租户的禁呼名单上。",
        "The number is on the platform's or the tenant's do-not-call list."),
    "NO_CONSENT": ReasonText(
        "A7", "无事先同意", "No prior consent",
        "租户没有该号码有效的事先同意记录。",
        "The tenant holds no valid prior-consent record for the number."),
    "OUTSIDE_CALLING_HOURS": ReasonText(
        "A8", "非外呼时段", "Outside calling hours",
        "按被叫当地时间不在允许的外呼时段内。",
        "It is outside the calling hours in the callee's local time."),
    "FREQUENCY_LIMIT": ReasonText(
        "A9", "频次超限", "Frequency limit",
        "对该号码的呼叫次数或间隔超出限制。",
        "The number has been called too often or too recently."),
    "NO_LOCAL_NUMBER": ReasonText(
        "A10", "无本地号码", "No local number",
        "租户没有可向该被叫显示的号码（须与被叫同省）。",
        "The tenant leases no number it may present to this callee (same province)."),
    "NUMBER_LEASE_EXPIRED": ReasonText(
        "A10", "号码租期已过", "Number lease expired",
        "符合条件的主叫号码租期已到期（未续费）。",
        "The leases of the numbers that qualify are not paid through now."),
    "NUMBER_BUSY": ReasonText(
        "A10", "号码忙", "Number busy",
        "符合条件的主叫号码并发通话数已满。",
        "Every number that qualifies already carries its maximum of live calls."),
    "SCRIPT_NOT_APPROVED": ReasonText(
        "A11", "话术未审核", "Script not approved",
        "外呼没有已审核通过话术的活动。",
        "The call has no campaign with an approved call script."),
    "INDUSTRY_RESTRICTED": ReasonText(
        "A12", "限制行业", "Restricted industry",
        "租户属于限制行业，尚未获得运营批准。",
        "The tenant is in a restricted industry without the operator's approval."),
    "INSUFFICIENT_BALANCE": ReasonText(
        "A13", "余额不足", "Insufficient balance",
        "可用余额不足一个计费单位（含接通费）。",
        "The available balance does not pay for one billing increment (plus any connect fee)."),
    "AUTODIAL_FORBIDDEN": ReasonText(
        "A14", "禁止自动外呼", "Automatic dialling",
        "没有坐席的呼叫（自动外呼）被拒绝。",
        "A call without a seat (automatic dialling) is refused."),
    "REGION_RESTRICTED": ReasonText(
        "A16", "限制地区", "Restricted region",
        "不呼叫归属于该省份的号码。",
        "Numbers registered in this province are not called."),
    "POLICY_UNAVAILABLE": ReasonText(
        "A", "策略不可用", "Policy unavailable",
        "无法评估策略（数据库故障或超时），按规则拒绝。",
        "The policy could not be evaluated (database error or timeout); the call is refused."),
}


def reason_text(code: str) -> ReasonText:
    """The texts of a code; an unknown code (say, from a newer version) explains itself."""
    return REASONS.get(code) or ReasonText("", code, code, "", "")
