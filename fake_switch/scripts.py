"""What the far end of a leg does (:class:`LegScript`, :class:`Press`) and the moments of a call
its actions count from (:data:`MOMENTS`)."""

from __future__ import annotations

from dataclasses import dataclass, field

#: outcome -> (hangup cause, DIALSTATUS, SIP status, SIP phrase); see fs-transcripts 03.
FAILURES = {
    "busy": ("USER_BUSY", "BUSY", "486", "Busy Here"),
    "no_answer": ("NO_ANSWER", "NOANSWER", None, None),
    "reject": ("CALL_REJECTED", "DONTCALL", "603", "Decline"),
    "unallocated": ("UNALLOCATED_NUMBER", "UNALLOCATED_NUMBER", "404", "Not Found"),
    "unreachable": ("NORMAL_TEMPORARY_FAILURE", "NORMAL_TEMPORARY_FAILURE", "503", "Service Unavailable"),
}
#: seconds (before time_scale) a failing SIP answer takes to come back (41 ms in 03)
FAILURE_DELAY = 0.04

#: Moments of a call that far-end actions (``LegScript.hangup_after``, :class:`Press`) count from
#: and tests wait on (:meth:`FakeCall.wait_for`). A plain name is a moment of the scripted leg
#: itself; ``"a-leg:<moment>"`` is one of the call's first leg (the channel the dialplan handed to
#: the app: the agent's or the caller's), ``"b-leg:<moment>"`` one of its other legs (originated
#: callees, bridged seats; the first to get there). Each moment counts once, the first time.
MOMENTS = {
    "connect": "the leg's Event Socket connection to the app is up",
    "answer": "the leg answered (an originated leg arrives answered)",
    "bridge": "the leg was bridged: its uuid_bridge events went out, or the bridge app joined it",
    "broadcast": "uuid_broadcast / sched_broadcast queued something to play to the leg",
    "execute:<app>": "the leg started <app> for the first time (CHANNEL_EXECUTE; e.g. execute:playback)",
    "complete:<app>": "the leg's first <app> ended (CHANNEL_EXECUTE_COMPLETE)",
    "hangup": "the leg's hangup is over (CHANNEL_HANGUP_COMPLETE sent)",
}
LEG_PREFIXES = ("a-leg:", "b-leg:")


@dataclass
class Press:
    """One keypress of the far end. ``digit=None`` means: stay silent for this prompt.

    ``relative_to="prompt"``: ``after`` seconds after the play_and_get_digits that asks for it
    starts (each play_and_get_digits consumes the next "prompt" Press, so the key answers the
    prompt it is meant for however late the app asks); any other value is a moment
    (:data:`MOMENTS`), e.g. ``"answer"``: ``after`` seconds after the leg answered.
    """
    digit: str | None
    after: float = 0.0
    relative_to: str = "prompt"


@dataclass
class LegScript:
    """What the far end of a leg does. All durations are multiplied by the fake's time_scale."""
    outcome: str = "answer"  # answer | busy | no_answer | reject | unallocated | unreachable
    answer_after: float = 0.0  # ringing time before the answer (originate / bridge)
    ring_seconds: float | None = None  # for no_answer: default is the originate_timeout variable
    presses: list[Press] = field(default_factory=list)
    hangup_after: float | None = None  # far end hangs up this long after ``hangup_relative_to``
    # the moment hangup_after counts from (MOMENTS): "answer", or e.g. "bridge" for a callee who
    # talks that long once connected, "execute:playback" for one who hangs up during the first prompt
    hangup_relative_to: str = "answer"
    abandon_after: float | None = None  # the first leg's far end hangs up this long after its socket connected
    hangup_cause: str = "NORMAL_CLEARING"
    file_seconds: float = 0.2  # length of any non-tone file played to this leg
    drop_socket_on: str | None = None  # "api", "bgapi", "sendmsg", "execute:<app>", "getvar", ...
    garbage_on: str | None = None  # same keys; answers with ``garbage`` instead of a reply
    garbage: bytes = b"Content-Type: command/reply\nContent-Length: banana\n\n"


CalleeScript = LegScript


def seconds_to_fail(script: LegScript, variables: dict[str, str]) -> float:
    """How long a failing callee takes to fail: it rings for no_answer (its ``ring_seconds``, else
    the ``originate_timeout`` variable), every other failure comes back after FAILURE_DELAY."""
    if script.outcome == "no_answer":
        return script.ring_seconds if script.ring_seconds is not None else float(variables.get("originate_timeout", 60))
    return FAILURE_DELAY
