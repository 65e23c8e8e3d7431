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
    )
