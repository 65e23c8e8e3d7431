"""Calling windows as (start, end) minutes of the day, end exclusive (RULEBOOK A8)."""
from __future__ import annotations

from typing import Any, Iterable

from .errors import InvalidInput

Windows = tuple[tuple[int, int], ...]


def parse_windows(raw: Any) -> Windows:
    """"09:00-12:00,14:00-18:00" or a list of "HH:MM-HH:MM"; InvalidInput (a ValueError) with a short
    reason, a template the admin shows in the page's language."""
    if isinstance(raw, str):
        parts = [p.strip() for p in raw.split(",") if p.strip()]
    elif isinstance(raw, (list, tuple)) and all(isinstance(p, str) for p in raw):
        parts = [p.strip() for p in raw]
    else:
        raise InvalidInput("expected HH:MM-HH:MM windows, got %(raw)r", raw=raw)
    if not parts:
        raise InvalidInput("at least one window is needed")
    windows = []
    for part in parts:
        start_text, sep, end_text = part.partition("-")
        if not sep:
            raise InvalidInput("window %(part)r is not HH:MM-HH:MM", part=part)
        start, end = _minute_of_day(start_text), _minute_of_day(end_text)
        if end <= start:
            raise InvalidInput("window %(part)r ends before it starts", part=part)
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:]):
        if start < end:
            raise InvalidInput("windows overlap")
    return tuple(windows)


def _minute_of_day(text: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise InvalidInput("%(text)r is not HH:MM", text=text.strip())
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise InvalidInput("%(text)r is not a time of day", text=text.strip())
    return h * 60 + m


def format_windows(windows: Iterable[tuple[int, int]]) -> str:
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows)


def within(inner: Windows, outer: Windows) -> bool:
    """True when every inner window lies inside one outer window (tenants may only narrow)."""
    return all(any(os <= s and e <= oe for os, oe in outer) for s, e in inner)
