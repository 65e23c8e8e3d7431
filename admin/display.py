"""Stored values a person reads: audit details as a key: value list, ledger notes that the
models write in English with UTC times, said in the page's language and zone."""
from __future__ import annotations

import re
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .i18n import error_text, local_time_with_zone
from .labels import AUDIT_FIELD, DIRECTION, DNC_SCOPE, FUNCTION, ROLE, SCREENING_CATEGORY, STATUS

_RENT_NOTE = re.compile(r"^(seat|number) (\S+): (\d+) days from (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)$")
_CALL_NOTE = re.compile(r"^(\d+) s (outbound|inbound)$")
_FIXED_NOTES = {
    "C4 termination for a violation: unused balance forfeited": _l("C4 违规终止：未用余额没收"),
    "C4 termination through the operator's fault: unused paid balance refunded": _l("C4 平台过错终止：退还未用的已付余额"),
    "C4: promotional credit is not refundable as cash": _l("C4：赠送额度不能以现金退还"),
}
#: audit detail values that are codes of a known kind
_VALUE_LABELS = {"role": ROLE, "status": STATUS, "function": FUNCTION, "direction": DIRECTION, "scope": DNC_SCOPE}


def ledger_note(note: str) -> str:
    """A ledger note as the page shows it: the models' own notes translated (their UTC times in
    the page's zone); anything an operator typed is shown as typed."""
    note = note or ""
    match = _RENT_NOTE.match(note)
    if match:
        kind, what, days, start = match.groups()
        when = local_time_with_zone(datetime.fromisoformat(start))
        if kind == "seat":
            return _("坐席 %(seat)s：%(days)s 天，自 %(start)s 起", seat=what, days=days, start=when)
        return _("号码 %(number)s：%(days)s 天，自 %(start)s 起", number=what, days=days, start=when)
    match = _CALL_NOTE.match(note)
    if match:
        seconds, direction = match.groups()
        return _("%(seconds)s 秒，%(direction)s", seconds=seconds, direction=DIRECTION[direction])
    if note in _FIXED_NOTES:
        return str(_FIXED_NOTES[note])
    return note


def audit_details(detail) -> list[tuple[str, str]]:
    """(label, text) pairs of an audit entry's details, in the page's language."""
    if not isinstance(detail, dict):
        return [("", _value_text("", detail))] if detail not in (None, "", [], {}) else []
    return [(_key_label(key), _value_text(key, value)) for key, value in detail.items()]


def _key_label(key: str) -> str:
    return str(AUDIT_FIELD.get(key) or SCREENING_CATEGORY.get(key) or key)


def _value_text(key: str, value) -> str:
    if isinstance(value, bool):
        return _("是") if value else _("否")
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "；".join(f"{_key_label(k)}: {_value_text(k, v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return "、".join(_value_text(key, item) for item in value) or "—"
    labels = _VALUE_LABELS.get(key)
    if labels and value in labels:
        return str(labels[value])
    return str(value)


def reject_keys(mapping: dict, *keys: str) -> dict:
    """URL arguments without the paging ones (for links that start the list again)."""
    return {k: v for k, v in mapping.items() if k not in keys}


def register(app) -> None:
    app.jinja_env.filters.update(ledger_note=ledger_note, audit_details=audit_details, reject_keys=reject_keys)
    app.jinja_env.globals.update(error_text=error_text)
