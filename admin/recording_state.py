"""What became of a call's recording, in one word for the call page (RULEBOOK B2): a file to play,
or why there is none. A callee who pressed 1 was promised nothing less than a recording, so a
missing file after a 1 is told apart from a callee who declined or was never asked."""
from __future__ import annotations

from models.calls.tables import CallRecord


def recording_state(call: CallRecord, file_found: bool) -> str:
    """One of ``state_labels.RECORDING_STATE``'s codes."""
    if file_found:
        return "available"
    if call.recording_digit == "1":
        return "missing"
    if call.recording_digit == "2":
        return "declined"
    if (call.facts or {}).get("record_allowed") is False:
        return "not_allowed"
    if call.decision == "blocked" or call.answered_at is None:
        return "not_asked"
    return "no_answer"
