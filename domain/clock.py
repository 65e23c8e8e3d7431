"""The process's one clock, and the Asia/Shanghai calendar of the rules.

Stored times are naive UTC datetimes (ARCHITECTURE principle 6). Every "now" in the code comes
from :func:`utcnow` (or :func:`timestamp`), which asks the installed clock: the system clock in
production, a :class:`PinnedClock` in tests (``use_clock``), so that a rule never depends on the
date a test happens to run on. Functions that apply a rule take ``now``/``at`` and fall back to
this clock only when the caller passes nothing.
"""
from __future__ import annotations

import contextlib
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

#: the operator's calendar: calling days, billing months, "today" in reports and rules
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
EPOCH = datetime(1970, 1, 1)


class SystemClock:
    """The wall clock (production)."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc).replace(tzinfo=None)


class PinnedClock:
    """A clock that starts at ``start`` and then runs at real speed (``running=True``) or stands
    still until ``advance``/``set`` moves it. The real speed comes from the monotonic clock, so
    moving the system date (libfaketime, NTP) does not move it."""

    def __init__(self, start: datetime, *, running: bool = True):
        self._base = to_utc_naive(start)
        self._running = running
        self._since = time.monotonic()

    def now(self) -> datetime:
        if not self._running:
            return self._base
        return self._base + timedelta(seconds=time.monotonic() - self._since)

    def set(self, at: datetime) -> None:
        self._base, self._since = to_utc_naive(at), time.monotonic()

    def advance(self, delta: timedelta | float) -> datetime:
        if not isinstance(delta, timedelta):
            delta = timedelta(seconds=delta)
        self.set(self.now() + delta)
        return self._base

    def freeze(self, at: datetime | None = None) -> None:
        self.set(self.now() if at is None else at)
        self._running = False

    def run(self) -> None:
        self.set(self.now())
        self._running = True


_clock: SystemClock | PinnedClock = SystemClock()


def use_clock(clock) -> object:
    """Install ``clock`` (anything with ``now() -> naive UTC datetime``); returns the previous one."""
    global _clock
    previous, _clock = _clock, clock
    return previous


@contextlib.contextmanager
def pinned(at: datetime, *, running: bool = False):
    """Run a block with the clock pinned at ``at`` (standing still unless ``running``)."""
    clock = PinnedClock(at, running=running)
    previous = use_clock(clock)
    try:
        yield clock
    finally:
        use_clock(previous)


def utcnow() -> datetime:
    """Now, naive UTC, from the installed clock."""
    return _clock.now()


def timestamp(at: datetime | None = None) -> float:
    """Seconds since the Unix epoch of ``at`` (naive UTC), or of now."""
    return ((utcnow() if at is None else at) - EPOCH).total_seconds()


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
    """ISO 8601 with or without offset ('Z' allowed); a naive value is UTC. Times outside
    ``bounds.EARLIEST_TIME``..``bounds.LATEST_TIME`` are refused (OutOfRange)."""
    from .bounds import TIME_RANGE_TEXT, OutOfRange, check_time
    from .errors import InvalidInput

    cleaned = text.strip()
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        value = to_utc_naive(datetime.fromisoformat(cleaned))
    except ValueError:
        raise InvalidInput("invalid date/time %(text)r: expected ISO 8601, e.g. 2026-11-23T10:00:00+08:00", text=text) from None
    except OverflowError:  # an offset moved it past year 1 or 9999
        raise OutOfRange("date/time %(text)r must be %(time_range)s", text=text, time_range=TIME_RANGE_TEXT) from None
    return check_time(value, f"date/time {text!r}")
