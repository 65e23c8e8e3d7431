"""Ending a live call on an operator's word: ``api uuid_kill <uuid> <cause>`` over FreeSWITCH's
inbound Event Socket (fs-transcripts/06: ``+OK`` for a live channel, ``-ERR No such channel!``
for one that is gone), with a short deadline, audited with who, which call and the result.

The call's own flow sees the hangup like any other and charges the call as usual: nothing here
touches the call path's connections or state.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from models.complaints.audit import audit

from .inbound_esl import EslError, InboundEventSocket

log = logging.getLogger("fsapp.call_control")

KILL_CAUSES = ("MANAGER_REQUEST", "NORMAL_CLEARING", "CALL_REJECTED")  # FreeSWITCH cause names
END_CALL_DEADLINE_S = 2.0  # the whole kill, connect included: an admin page must not hang
NO_SUCH_CHANNEL = "-ERR No such channel!"


@dataclass(frozen=True)
class EndResult:
    outcome: str  # "ended" | "gone" (FreeSWITCH has no such channel) | "unreachable" | "refused"
    detail: str = ""  # FreeSWITCH's answer, or why it could not be asked (one line)

    @property
    def ended(self) -> bool:
        return self.outcome == "ended"


def end_call(settings, uuids: list[str], cause: str, *, actor: str, tenant_id: int | None,
             esl: InboundEventSocket | None = None) -> EndResult:
    """Kill the call's legs (the agent leg first; the callee leg too when known: before the bridge
    it is a separate channel). Ended when FreeSWITCH killed at least one of them."""
    if cause not in KILL_CAUSES:
        raise ValueError(f"unknown hangup cause {cause!r}")
    own = esl is None
    if own:
        esl = InboundEventSocket.from_settings(settings)
        esl.timeout = min(esl.timeout, END_CALL_DEADLINE_S)
    answers = []
    try:
        for uuid in uuids:
            answers.append(esl.api(f"uuid_kill {uuid} {cause}").strip())
    except EslError as exc:
        result = EndResult("unreachable", str(exc))
    else:
        if any(answer.startswith("+OK") for answer in answers):
            result = EndResult("ended", answers[0])
        elif all(answer.startswith(NO_SUCH_CHANNEL) for answer in answers):
            result = EndResult("gone", answers[0] if answers else "")
        else:
            result = EndResult("refused", "; ".join(answers)[:200])
    finally:
        if own:
            esl.close()
    audit(actor, "call.end", tenant=tenant_id, target=uuids[0] if uuids else "", legs=list(uuids), cause=cause,
          outcome=result.outcome, detail=result.detail)
    log.info("call %s end (%s) by %s: %s %s", uuids[0] if uuids else "-", cause, actor, result.outcome, result.detail)
    return result
