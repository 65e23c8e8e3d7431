"""Stored times are naive UTC datetimes (ARCHITECTURE principle 6)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

#: the operator's calendar: calling days, billing months, "today" in reports and rules
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def local_day(at: datetime) -> date:
    """The Asia/Shanghai calendar day of a naive UTC time."""
    return at.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE).date()


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar day in Asia/Shanghai, as naive UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL_ZONE).astimezone(timezone.utc).replace(tzinfo=None)
    return start, start + timedelta(days=1)


def to_utc_naive(value: datetime) -> datetime:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC already."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def parse_iso(text: str) -> datetime:
    """ISO 8601 with or without offset ('Z' allowed); a naive value is UTC."""
    from .errors import InvalidInput

    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        return to_utc_naive(datetime.fromisoformat(cleaned))
    except ValueError:
        raise InvalidInput(f"invalid date/time {text!r}: expected ISO 8601, e.g. 2026-11-23T10:00:00+08:00") from None
