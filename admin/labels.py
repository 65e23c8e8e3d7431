"""Chinese labels (translated to English by the catalogue) for stored codes."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

STATUS = {
    "pending_review": _l("待审核"), "active": _l("启用"), "suspended": _l("整改中"), "terminated": _l("已终止"),
    "draft": _l("草稿"), "review": _l("待审核"), "approved": _l("已批准"), "rejected": _l("已驳回"),
    "allowed": _l("放行"), "blocked": _l("拦截"), "admitted": _l("已放行"), "ringing": _l("振铃"),
    "answered": _l("已接通"), "completed": _l("已完成"), "busy": _l("忙"), "no_answer": _l("无应答"),
    "failed": _l("失败"), "opted_out": _l("拒绝来电"), "abandoned": _l("放弃"),
}
ROLE = {"operator": _l("运营管理员"), "tenant_admin": _l("租户管理员"), "auditor": _l("审计员"),
        "agent": _l("坐席"), "admin": _l("管理员")}
CHANNEL = {"hotline": _l("投诉热线"), "12321": _l("12321 举报中心"), "anti_fraud_app": _l("反诈 App"),
           "regulator": _l("监管部门")}
FUNCTION = {"account": _l("整个账号"), "outbound": _l("外呼"), "inbound": _l("呼入"), "recording": _l("录音")}
LEDGER_KIND = {"topup": _l("充值"), "promo": _l("赠送额度"), "call": _l("通话费"), "seat_rent": _l("坐席月租"),
               "number_rent": _l("号码月租"), "refund": _l("退款"), "forfeit": _l("没收"), "adjust": _l("调整")}
DNC_SOURCE = {"optout": _l("通话中拒绝"), "complaint": _l("投诉"), "agent": _l("坐席"), "admin": _l("管理员"),
              "import": _l("导入")}
SCREENING_CATEGORY = {"prohibited": _l("违禁内容"), "restricted_industry": _l("限制行业")}
DNC_SCOPE = {"tenant": _l("租户名单"), "platform": _l("平台名单")}
DIRECTION = {"outbound": _l("呼出"), "inbound": _l("呼入")}
PROMPT = {
    "disclosure": _l("身份告知"), "consent_request": _l("录音同意询问"), "consent_repeat": _l("录音同意重问"),
    "optout_offer": _l("拒绝来电选项"), "optout_confirm": _l("拒绝来电确认"), "consent_declined": _l("不同意录音"),
    "connecting": _l("正在接通"), "agent_recorded": _l("坐席提示：录音中"), "agent_not_recorded": _l("坐席提示：不录音"),
    "duration_warning": _l("时长即将用完"), "callee_busy": _l("对方忙"), "callee_no_answer": _l("对方无应答"),
    "callee_rejected": _l("对方拒接"), "callee_failed": _l("呼叫失败"), "callee_opted_out": _l("对方已拒绝来电"),
    "inbound_consent_request": _l("呼入录音同意询问"), "inbound_nobody_available": _l("呼入无坐席"),
    "inbound_unreachable": _l("呼入无法接通"), "blocked_invalid_number": _l("拦截：号码无效"),
    "blocked_account": _l("拦截：账户"), "blocked_seat": _l("拦截：坐席"), "blocked_campaign": _l("拦截：话术"),
    "blocked_balance": _l("拦截：余额"), "blocked_caller_id": _l("拦截：主叫号码"),
    "blocked_callee_protected": _l("拦截：被叫受保护"), "blocked_timing": _l("拦截：时段或频次"),
    "blocked_busy": _l("拦截：线路忙"), "blocked_system": _l("拦截：系统"),
}
#: who did it, when it was not a signed-in user (usernames are shown as they are)
ACTOR = {"cli": _l("命令行"), "system": _l("系统"), "jobs": _l("定时任务"), "callee": _l("被叫按键"),
         "metering:app": _l("计费（通话程序）"), "metering:cdr": _l("计费（话单对账）")}
AUDIT_ACTION = {
    "calls.export": _l("导出通话记录"), "campaign.add": _l("提交话术"), "campaign.record": _l("设置话术录音"),
    "campaign.update": _l("审核话术"), "complaint.add": _l("登记投诉"), "complaint.answer": _l("答复投诉"),
    "consent.add": _l("记录同意"), "consent.import": _l("导入同意记录"), "consent.revoke": _l("撤销同意"),
    "dnc.add": _l("加入禁呼名单"), "dnc.import": _l("导入禁呼名单"), "ledger.topup": _l("充值"),
    "login.ok": _l("登录成功"), "login.failed": _l("登录失败"), "login.refused": _l("拒绝登录"),
    "number.lease": _l("租用号码"), "number.renew": _l("号码续期"), "pii.view": _l("查看完整号码"),
    "recording.play": _l("播放录音"), "retention.delete_tenant_data": _l("删除租户数据"),
    "retention.delete_tenant_data_failed": _l("删除租户数据失败"), "seat.add": _l("添加坐席"),
    "seat.enable": _l("启用坐席"), "seat.disable": _l("停用坐席"), "seat.password": _l("重置坐席密码"),
    "seat.renew": _l("坐席续期"), "tenant.add": _l("创建租户"), "tenant.ban": _l("封禁租户功能"),
    "tenant.set": _l("修改租户"), "tenant.settle": _l("租户结算"), "tenant.sip_domain": _l("修改 SIP 域"),
    "tenant.terminate": _l("终止租户"), "tenant.unban": _l("解除封禁"), "token.create": _l("创建令牌"),
    "token.revoke": _l("吊销令牌"), "user.add": _l("添加用户"), "user.disable": _l("停用用户"),
    "user.reset_password": _l("重置密码"),
}
#: detail keys of audit entries
AUDIT_FIELD = {
    "rows": _l("行数"), "filters": _l("筛选条件"), "full_numbers": _l("完整号码"), "max_rows": _l("最多行数"),
    "why": _l("原因"), "imported": _l("已导入"), "bad_rows": _l("错误行"), "agent_uuid": _l("坐席腿 UUID"),
    "number": _l("号码"), "reason": _l("原因"), "source": _l("来源"), "role": _l("角色"), "tenant": _l("租户"),
    "pii": _l("可查看完整号码"), "status": _l("状态"), "function": _l("功能"), "until": _l("截止"),
    "amount_fen": _l("金额（分）"), "promo": _l("赠送"), "note": _l("备注"), "days": _l("天数"), "name": _l("名称"),
    "seats": _l("坐席数"), "channel": _l("渠道"), "call_uuid": _l("通话 UUID"), "approve": _l("批准"),
    "record": _l("录音"), "kind": _l("类型"), "changes": _l("修改"), "address": _l("地址"), "code": _l("代码"),
    "result": _l("结果"), "seat": _l("坐席"), "hits": _l("筛查命中"), "scope": _l("名单范围"), "campaign": _l("话术"), "from": _l("起始日期"), "to": _l("结束日期"),
}


def _lookup(table):
    def label(code):
        value = table.get(code)
        return str(value) if value is not None else (code or "")

    return label


def register(app) -> None:
    from flask_babel import get_locale

    from .reasons import reason_label

    app.jinja_env.globals.update(
        get_locale=get_locale, reason_label=reason_label,
        status_label=_lookup(STATUS), role_label=_lookup(ROLE), channel_label=_lookup(CHANNEL),
        function_label=_lookup(FUNCTION), ledger_kind_label=_lookup(LEDGER_KIND), dnc_source_label=_lookup(DNC_SOURCE),
        direction_label=_lookup(DIRECTION), screening_label=_lookup(SCREENING_CATEGORY), prompt_label=_lookup(PROMPT), actor_label=_lookup(ACTOR),
        audit_action_label=_lookup(AUDIT_ACTION), audit_field_label=_lookup(AUDIT_FIELD),
    )
