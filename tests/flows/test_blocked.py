"""B6: every block reason we can provoke gives its category prompt and hangup cause, and no callee leg."""
from __future__ import annotations

import pytest

from models.lists import list_entries
from models.tenancy import tenants
from models.calls.tables import CallRecord, Hold

from .conftest import (CALLEE, SHANGHAI_NUMBER, make_tenant, names, place_agent_call, played,
                       shanghai_window_excluding_now)


def provoke(reason, make_settings):
    """(settings, place_call kwargs) after setting up the world so that ``reason`` blocks."""
    settings, kwargs = make_settings(), {}
    if reason == "UNAUTHENTICATED":
        make_tenant()
        kwargs["user"] = None
    elif reason == "SEAT_UNKNOWN":
        make_tenant()
        kwargs["user"] = "9999"
    elif reason == "NO_CONSENT":
        make_tenant(callees=())
    elif reason == "DNC":
        make_tenant()
        list_entries.add_dnc(CALLEE, tenant_code="acme", source="complaint")
    elif reason == "OUTSIDE_CALLING_HOURS":
        make_tenant()
        settings = make_settings(calling_windows=shanghai_window_excluding_now())
    elif reason == "INSUFFICIENT_BALANCE":
        make_tenant(balance=0)
    elif reason == "SCRIPT_NOT_APPROVED":
        make_tenant(approve=False)
    elif reason == "NO_LOCAL_NUMBER":
        make_tenant(numbers=(SHANGHAI_NUMBER,))
    elif reason == "TENANT_NOT_ACTIVE":
        make_tenant(status="suspended")
    elif reason == "FUNCTION_BANNED":
        make_tenant()
        tenants.ban_tenant("acme", function="outbound", until=None, reason="test")
    else:
        raise AssertionError(reason)
    return settings, kwargs


@pytest.mark.parametrize("reason,prompt,cause", [
    ("UNAUTHENTICATED", "blocked_seat", "OUTGOING_CALL_BARRED"),
    ("SEAT_UNKNOWN", "blocked_seat", "OUTGOING_CALL_BARRED"),
    ("NO_CONSENT", "blocked_callee_protected", "CALL_REJECTED"),
    ("DNC", "blocked_callee_protected", "CALL_REJECTED"),
    ("OUTSIDE_CALLING_HOURS", "blocked_timing", "CALL_REJECTED"),
    ("INSUFFICIENT_BALANCE", "blocked_balance", "OUTGOING_CALL_BARRED"),
    ("SCRIPT_NOT_APPROVED", "blocked_campaign", "OUTGOING_CALL_BARRED"),
    ("NO_LOCAL_NUMBER", "blocked_caller_id", "OUTGOING_CALL_BARRED"),
    ("TENANT_NOT_ACTIVE", "blocked_account", "OUTGOING_CALL_BARRED"),
    ("FUNCTION_BANNED", "blocked_account", "OUTGOING_CALL_BARRED"),
])
def test_block_reason_prompt_and_cause(sqlite_db, make_settings, telephony, reason, prompt, cause):
    settings, kwargs = provoke(reason, make_settings)
    fake = telephony.start(settings)
    call = place_agent_call(fake, **kwargs)
    assert call.wait_ended(10)
    assert call.callee_legs == [] and not any(c.startswith("bgapi originate") for c in call.a_leg.commands)
    assert names(played(call.a_leg)) == [prompt]
    assert call.a_leg.hangup_cause == cause and not call.a_leg.answered  # pre_answer: the cause reaches SIP
    record = CallRecord.get(CallRecord.agent_uuid == call.a_leg.uuid)
    assert record.decision == "blocked" and reason in record.reasons
    assert record.prompts == [prompt] and record.hangup_cause == cause
    assert Hold.select().count() == 0
