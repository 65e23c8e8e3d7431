"""What each reason code (RULEBOOK A1-A16) means, for the call detail and the dashboard."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

REASONS = {
    "TENANT_NOT_ACTIVE": (_l("租户未启用"), _l("租户不是“启用”状态（待审核、整改中或已终止）。"), "A1"),
    "TENANT_BANNED": (_l("租户被封禁"), _l("租户账号处于封禁期，到期后自动解除。"), "A1"),
    "FUNCTION_BANNED": (_l("功能被封禁"), _l("外呼功能被封禁（包括投诉率超限后的自动封禁，需运营复核）。"), "A2/A15"),
    "SEAT_UNKNOWN": (_l("坐席不存在"), _l("主叫坐席不存在、未启用或不属于该租户。"), "A3"),
    "SEAT_EXPIRED": (_l("坐席已过期"), _l("坐席不在有效期内（自购买日起算）。"), "A3"),
    "SEAT_BUSY": (_l("坐席忙"), _l("该坐席已有一通进行中的通话。"), "A3"),
    "SEAT_LIMIT": (_l("超出坐席数"), _l("租户同时外呼数已达到购买的坐席数。"), "A3"),
    "UNAUTHENTICATED": (_l("未认证"), _l("呼叫未通过 SIP 认证，无法确认坐席身份。"), "A4"),
    "INVALID_NUMBER": (_l("号码无效"), _l("被叫号码无法规范为有效的 E.164 号码。"), "A5"),
    "DNC": (_l("禁呼名单"), _l("号码在平台或租户的禁呼名单上。"), "A6"),
    "NO_CONSENT": (_l("无事先同意"), _l("租户没有该号码有效的事先同意记录。"), "A7"),
    "OUTSIDE_CALLING_HOURS": (_l("非外呼时段"), _l("按被叫当地时间不在允许的外呼时段内。"), "A8"),
    "FREQUENCY_LIMIT": (_l("频次超限"), _l("对同一被叫的呼叫次数或间隔超出限制。"), "A9"),
    "NO_LOCAL_NUMBER": (_l("无本地号码"), _l("没有与被叫同省、可用的租用号码。"), "A10"),
    "NUMBER_LEASE_EXPIRED": (_l("号码租期已过"), _l("主叫号码的租期已到期（未续费）。"), "A10"),
    "NUMBER_BUSY": (_l("号码忙"), _l("主叫号码的并发通话数已满。"), "A10"),
    "SCRIPT_NOT_APPROVED": (_l("话术未审核"), _l("外呼活动的话术尚未通过审核。"), "A11"),
    "INDUSTRY_RESTRICTED": (_l("限制行业"), _l("租户属于限制行业，尚未获得运营批准。"), "A12"),
    "INSUFFICIENT_BALANCE": (_l("余额不足"), _l("可用余额不足一个计费单位（含接通费）。"), "A13"),
    "AUTODIAL_FORBIDDEN": (_l("禁止自动外呼"), _l("没有坐席的呼叫（自动语音群呼）被拒绝。"), "A14"),
    "REGION_RESTRICTED": (_l("限制地区"), _l("被叫号码归属于限制外呼的省份。"), "A16"),
    "POLICY_UNAVAILABLE": (_l("策略不可用"), _l("无法评估策略（数据库故障或超时），按规则拒绝。"), "A"),
}


def reason_label(code: str) -> str:
    entry = REASONS.get(code)
    return str(entry[0]) if entry else code


def reason_explanation(code: str) -> str:
    entry = REASONS.get(code)
    return str(entry[1]) if entry else ""


def reason_rule(code: str) -> str:
    entry = REASONS.get(code)
    return entry[2] if entry else ""
