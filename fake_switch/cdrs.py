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


@lru_cache(maxsize=1)
def _template() -> dict:
    return json.loads((REAL_CDRS / CALLEE_TEMPLATE).read_text())


def callee_leg(uuid: str, *, parent: str, caller: str, destination: str, start_us: int, answer_us: int,
               end_us: int, hangup_cause: str = "NORMAL_CLEARING") -> dict:
    """A callee-leg (B-leg) CDR as mod_json_cdr writes it; answer_us 0 for an unanswered leg."""
    document = copy.deepcopy(_template())
    variables = document["variables"]
    bill_us = end_us - answer_us if answer_us else 0
    variables.update({
        "uuid": uuid, "call_uuid": uuid, "fsapp_parent": parent, "origination_uuid": uuid, "fsapp_role": "callee",
        "origination_caller_id_number": encode(caller), "sip_from_user": encode(caller),
        "sip_to_user": encode(destination), "hangup_cause": hangup_cause,
        "start_epoch": str(start_us // 1_000_000), "start_uepoch": str(start_us),
        "answer_epoch": str(answer_us // 1_000_000), "answer_uepoch": str(answer_us),
        "end_epoch": str(end_us // 1_000_000), "end_uepoch": str(end_us),
        "billsec": str(bill_us // 1_000_000), "billmsec": str(bill_us // 1000), "billusec": str(bill_us),
        "duration": str((end_us - start_us) // 1_000_000),
    })
    for flow in document["callflow"]:
        profile = flow["caller_profile"]
        profile.update(uuid=uuid, ani=caller, destination_number=destination, caller_id_number=destination)
    return document


def write(directory: Path, document: dict) -> Path:
    path = directory / f"{document['variables']['uuid']}.cdr.json"
    path.write_text(json.dumps(document, separators=(",", ":")))
    return path
