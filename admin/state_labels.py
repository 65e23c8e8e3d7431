"""Words (Chinese, translated by the catalogue) and badge colours for the states the operations
pages show: a seat's and a number's validity (``models.seats.validity``), a seat's live state, a
call's recording, and a login's standing."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

SEAT_STATE = {
    "tenant_terminated": _l("租户已终止"), "tenant_suspended": _l("租户整改中"), "tenant_pending": _l("租户待审核"),
    "tenant_banned": _l("租户已封禁"), "disabled": _l("已停用"), "expired": _l("已过期"),
    "not_started": _l("尚未生效"), "expiring": _l("即将到期"), "valid": _l("有效"),
}
LEASE_STATE = {"released": _l("已释放"), "lapsed": _l("已过期"), "expiring": _l("即将到期"), "valid": _l("有效")}
# A usable seat's live state (a seat that cannot work shows its SEAT_STATE instead).
LIVE_STATE = {"in_call": _l("通话中"), "idle": _l("空闲（已注册）"), "unregistered": _l("未注册"),
              "unknown": _l("注册状态未知")}
RECORDING_STATE = {
    "available": _l("有录音"),
    "missing": _l("被叫按 1 同意录音，但录音文件缺失"),
    "declined": _l("被叫按 2 拒绝录音"),
    "no_answer": _l("被叫未按键（视为拒绝），未录音"),
    "not_allowed": _l("未开启录音（话术设置不录音，或录音功能被封禁）"),
    "not_asked": _l("未询问录音（呼叫未接通或被拦截）"),
}
INBOUND_MODE = {"simultaneous": _l("同时振铃"), "sequential": _l("依次振铃")}
KILL_CAUSE = {"MANAGER_REQUEST": _l("管理员挂断"), "NORMAL_CLEARING": _l("正常挂断"), "CALL_REJECTED": _l("拒绝通话")}

BADGE = {
    "valid": "ok", "idle": "ok", "available": "ok", "in_call": "warn", "expiring": "warn", "not_started": "warn",
    "tenant_pending": "warn", "missing": "bad", "expired": "bad", "lapsed": "bad", "tenant_terminated": "bad",
    "tenant_suspended": "bad", "tenant_banned": "bad",
}


def label(table: dict, code: str) -> str:
    value = table.get(code)
    return str(value) if value is not None else (code or "")


def badge(code: str) -> str:
    return BADGE.get(code, "")


def register(blueprint) -> None:
    """Make the labels available to every template (from a blueprint, so no shared file changes)."""
    @blueprint.app_context_processor
    def _labels():
        return dict(
            seat_state_label=lambda code: label(SEAT_STATE, code),
            lease_state_label=lambda code: label(LEASE_STATE, code),
            live_state_label=lambda code: label(LIVE_STATE, code),
            recording_state_label=lambda code: label(RECORDING_STATE, code),
            inbound_mode_label=lambda code: label(INBOUND_MODE, code),
            kill_cause_label=lambda code: label(KILL_CAUSE, code),
            state_badge=badge,
        )
