"""Calling windows as (start, end) minutes of the day, end exclusive (RULEBOOK A8)."""
from __future__ import annotations

from typing import Any, Iterable

Windows = tuple[tuple[int, int], ...]


def parse_windows(raw: Any) -> Windows:
    """"09:00-12:00,14:00-18:00" or a list of "HH:MM-HH:MM"; ValueError with a short reason."""
    if isinstance(raw, str):
        parts = [p.strip() for p in raw.split(",") if p.strip()]
    elif isinstance(raw, (list, tuple)) and all(isinstance(p, str) for p in raw):
        parts = [p.strip() for p in raw]
    else:
        raise ValueError(f"expected HH:MM-HH:MM windows, got {raw!r}")
    if not parts:
        raise ValueError("at least one window is needed")
    windows = []
    for part in parts:
        start_text, sep, end_text = part.partition("-")
        if not sep:
            raise ValueError(f"window {part!r} is not HH:MM-HH:MM")
        start, end = _minute_of_day(start_text), _minute_of_day(end_text)
        if end <= start:
            raise ValueError(f"window {part!r} ends before it starts")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:]):
        if start < end:
            raise ValueError("windows overlap")
    return tuple(windows)


def _minute_of_day(text: str) -> int:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text.strip()!r} is not HH:MM")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m != 0):
        raise ValueError(f"{text.strip()!r} is not a time of day")
    return h * 60 + m


def format_windows(windows: Iterable[tuple[int, int]]) -> str:
    return ",".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in windows)


def within(inner: Windows, outer: Windows) -> bool:
    """True when every inner window lies inside one outer window (tenants may only narrow)."""
    return all(any(os <= s and e <= oe for os, oe in outer) for s, e in inner)
