"""originate: a callee leg that rings and fails as its script says, or answers and (with
``&socket(...)``) connects to the app as an outbound connection of its own."""

from __future__ import annotations

import uuid as uuid_module
from typing import TYPE_CHECKING

import gevent

from . import fs_templates
from .call import FakeCall
from .connection import FakeConnection
from .dialstring import dialled_number, socket_target, split_originate_args, split_vars
from .leg import FakeLeg
from .scripts import FAILURES, LegScript, seconds_to_fail
from .wire import clock_us

if TYPE_CHECKING:
    from .switch import FakeFreeSwitch

_TEMPLATE_B_UUID = "e3b3d28a-b288-46aa-baa9-27aac8df7126"
_TEMPLATE_B_CID = "+862012345678"


def originate(fs: FakeFreeSwitch, rest: str, owner: FakeLeg | None) -> str:
    """``originate <dial string> <application>``: the callee rings, then fails or answers; an
    answered leg with ``&socket(...)`` connects to the app before the reply (surprise 5)."""
    tokens = split_originate_args(rest)
    if not tokens:
        return "-ERR USAGE\n"
    variables, dial = split_vars(tokens[0])
    app_tokens = tokens[1:]
    number = dialled_number(dial)
    call = owner.call if owner is not None else FakeCall(fs, None)
    script = call.script_for(number)
    if script.outcome != "answer":
        cause = FAILURES[script.outcome][0]
        gevent.sleep(seconds_to_fail(script, variables) * fs.time_scale)
        call.callee_failures.append((number, cause))
        return f"-ERR {cause}\n"
    gevent.sleep(script.answer_after * fs.time_scale)
    socket_address, mode, control = socket_target(app_tokens)
    leg = new_originated_leg(fs, call, number, variables, script, str(uuid_module.uuid4()), socket_address)
    if socket_address is None:
        return f"+OK {leg.uuid}\n"
    conn = FakeConnection(fs, leg, socket_address, mode, control)
    leg.connection = conn
    try:
        conn.open()
    except OSError:
        leg.hangup_started = True
        leg.hangup_cause = "DESTINATION_OUT_OF_ORDER"
        conn.closed.set()
        leg.hangup_done.set()
        return "-ERR DESTINATION_OUT_OF_ORDER\n"
    # The B connection reaches the app before the BACKGROUND_JOB reaches A (surprise 5).
    conn.connect_received.wait(2.0)
    return f"+OK {leg.uuid}\n"


def new_originated_leg(fs: FakeFreeSwitch, call: FakeCall, number: str, variables: dict[str, str],
                       script: LegScript, b_uuid: str, socket_address) -> FakeLeg:
    """The answered callee leg of an originate or of the bridge app, from the captured B-leg's channel data."""
    b_uuid = variables.get("origination_uuid", b_uuid)
    cid = variables.get("origination_caller_id_number", "0000000000")
    now_us = str(clock_us())
    replacements = {_TEMPLATE_B_UUID: b_uuid, _TEMPLATE_B_CID: cid, "2002@": f"{number}@",
                    "1795458448097011": now_us}
    template = []
    for name, value in fs_templates.CONNECT_ORIGINATED_LEG:
        if value == "2002":
            value = number  # Caller-Caller-ID-Number is the dialled number (surprise 3)
        elif name == "variable_session_id":
            value = str(next(fs.session_ids))
        elif name == "variable_sip_call_id":
            value = str(uuid_module.uuid4())
        template.append((name, value))
    template_vars = ("origination_caller_id_number", "fsapp_parent", "fsapp_role", "originate_timeout")
    leg = FakeLeg(fs, call, uuid=b_uuid, number=number, template=template, replacements=replacements,
                  script=script, direction="outbound", drop_vars=template_vars,
                  extra_vars=list(variables.items()), insert_after="sip_destination_url", answered=True)
    if socket_address is not None:
        leg.set_var("current_application_data", f"{socket_address[0]}:{socket_address[1]} async full")
    else:
        leg.set_var("current_application_data", None)
        leg.set_var("current_application", None)
        leg.socket_app_done = True
    fs.legs[leg.uuid] = leg
    call.legs.append(leg)
    fs.arm_script(leg)
    leg.reached("answer")
    return leg

