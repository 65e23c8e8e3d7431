"""Turning form text into typed values. Meaning (ranges, existence, rules) is checked by the
same models functions the CLI calls; this only parses, with messages like the CLI's."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

from domain.bounds import TIME_RANGE_TEXT, OutOfRange, check_time
from domain.errors import InvalidInput

from .formatting import LOCAL_ZONE

_YUAN = re.compile(r"^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*$")


def yuan_to_fen(text: str, what: str) -> int:
    """'12.3' -> 1230: decimal text, never a float (C2)."""
    match = _YUAN.match(text or "")
    if not match:
        raise InvalidInput("%(what)s: enter an amount in yuan such as 100 or 99.50", what=what)
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def whole_number(text: str, what: str) -> int:
    text = (text or "").strip()
    if not re.fullmatch(r"\d{1,9}", text):
        raise InvalidInput("%(what)s must be a whole number", what=what)
    return int(text)


def optional_whole_number(text: str, what: str) -> int | None:
    return whole_number(text, what) if (text or "").strip() else None


def local_datetime(text: str, what: str) -> datetime:
    """'2026-11-23T18:00' entered in Asia/Shanghai -> naive UTC."""
    text = (text or "").strip()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput("%(what)s: expected a date and time such as 2026-11-23 18:00", what=what) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_ZONE)
    try:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    except OverflowError:  # past year 1 or 9999 in UTC
        raise OutOfRange("%(what)s must be %(time_range)s", what=what, time_range=TIME_RANGE_TEXT) from None
    return check_time(value, what)


def optional_local_date(text: str) -> date | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
