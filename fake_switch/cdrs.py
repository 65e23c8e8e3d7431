"""FreeSWITCH JSON CDRs for tests and the benchmark: the real ones from fs-transcripts/cdr, and
generated ones made from the real 02a callee-leg file with other uuids, numbers and times (so
they have the real shape and size, URL-encoded values included)."""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
REAL_CDRS = SHARED / "fs-transcripts" / "cdr"
CALLEE_TEMPLATE = "02a-uuid_bridge-B-leg.cdr.json"


def encode(value: str) -> str:
    # what mod_json_cdr's encode-values does: everything but / , ( ) ' - . _ and alphanumerics
    return quote(value, safe="/,()'-._")


# the real inbound call of transcript 01: its A-leg (direction inbound, the `bridge` app) and the
# leg that bridge made (direction outbound, `originator` = the A-leg, none of our variables)
BRIDGE_A_TEMPLATE = "01-bridge-app-A-leg.cdr.json"
BRIDGE_B_TEMPLATE = "01-bridge-app-B-leg.cdr.json"
AGENT_TEMPLATE = "02a-uuid_bridge-A-leg.cdr.json"


@lru_cache(maxsize=8)
def _real(name: str) -> dict:
    return json.loads((REAL_CDRS / name).read_text())


def _leg(template: str, uuid: str, *, start_us: int, answer_us: int, end_us: int, hangup_cause: str,
         variables: dict, profile: dict) -> dict:
    """A copy of a real CDR with another uuid, times and the given (already encoded) variables."""
    document = copy.deepcopy(_real(template))
    bill_us = end_us - answer_us if answer_us else 0
    document["variables"].update({
        "uuid": uuid, "hangup_cause": hangup_cause,
        "start_epoch": str(start_us // 1_000_000), "start_uepoch": str(start_us),
        "answer_epoch": str(answer_us // 1_000_000), "answer_uepoch": str(answer_us),
        "end_epoch": str(end_us // 1_000_000), "end_uepoch": str(end_us),
        "billsec": str(bill_us // 1_000_000), "billmsec": str(bill_us // 1000), "billusec": str(bill_us),
        "duration": str((end_us - start_us) // 1_000_000), **variables,
    })
    for flow in document["callflow"]:
        flow["caller_profile"].update(uuid=uuid, **profile)
    return document


def callee_leg(uuid: str, *, parent: str, caller: str, destination: str, start_us: int, answer_us: int,
               end_us: int, hangup_cause: str = "NORMAL_CLEARING") -> dict:
    """A callee-leg (B-leg) CDR as mod_json_cdr writes it; answer_us 0 for an unanswered leg."""
    return _leg(CALLEE_TEMPLATE, uuid, start_us=start_us, answer_us=answer_us, end_us=end_us,
                hangup_cause=hangup_cause,
                variables={"call_uuid": uuid, "fsapp_parent": parent, "origination_uuid": uuid, "fsapp_role": "callee",
                           "origination_caller_id_number": encode(caller), "sip_from_user": encode(caller),
                           "sip_to_user": encode(destination)},
                profile=dict(ani=caller, destination_number=destination, caller_id_number=destination))


def inbound_leg(uuid: str, *, caller: str, destination: str, bridged_to: str, start_us: int, answer_us: int,
                end_us: int, hangup_cause: str = "NORMAL_CLEARING") -> dict:
    """The A-leg of a call to a leased number that the `bridge` app connected to ``bridged_to``."""
    return _leg(BRIDGE_A_TEMPLATE, uuid, start_us=start_us, answer_us=answer_us, end_us=end_us,
                hangup_cause=hangup_cause,
                variables={"call_uuid": uuid, "fsapp_direction": "inbound", "sip_from_user": encode(caller),
                           "sip_to_user": encode(destination), "bridge_uuid": bridged_to,
                           "last_bridge_to": bridged_to, "signal_bond": bridged_to,
                           "originated_legs": encode(f"{bridged_to};Outbound Call;1001")},
                profile=dict(ani=caller, caller_id_number=caller, username=caller, destination_number=destination))


def bridged_leg(uuid: str, *, originator: str, caller: str, destination: str, start_us: int, answer_us: int,
                end_us: int, hangup_cause: str = "NORMAL_CLEARING") -> dict:
    """A leg FreeSWITCH made for someone else's bridge -- the seat ringing for an inbound call, a
    transfer target: direction outbound, ``originator`` set, none of the app's variables."""
    return _leg(BRIDGE_B_TEMPLATE, uuid, start_us=start_us, answer_us=answer_us, end_us=end_us,
                hangup_cause=hangup_cause,
                variables={"call_uuid": originator, "originator": originator, "originating_leg_uuid": originator,
                           "sip_from_user": encode(caller), "bridge_uuid": originator, "last_bridge_to": originator,
                           "signal_bond": originator},
                profile=dict(ani=caller, caller_id_number=caller, destination_number=destination,
                             originator=originator))


def agent_leg(uuid: str, *, agent: str, destination: str, bridged_to: str, start_us: int, answer_us: int,
              end_us: int, hangup_cause: str = "NORMAL_CLEARING") -> dict:
    """An agent's leg (direction inbound to FreeSWITCH) of an outbound call, uuid_bridged to ``bridged_to``."""
    return _leg(AGENT_TEMPLATE, uuid, start_us=start_us, answer_us=answer_us, end_us=end_us,
                hangup_cause=hangup_cause,
                variables={"call_uuid": bridged_to, "sip_from_user": encode(agent), "sip_to_user": encode(destination),
                           "bridge_uuid": bridged_to, "last_bridge_to": bridged_to, "signal_bond": bridged_to},
                profile=dict(ani=agent, caller_id_number=agent, username=agent, destination_number=destination))


def write(directory: Path, document: dict) -> Path:
    path = directory / f"{document['variables']['uuid']}.cdr.json"
    path.write_text(json.dumps(document, separators=(",", ":")))
    return path
