"""Jinja filters: stored UTC shown in Asia/Shanghai, fen shown as yuan, numbers masked (D3)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import g

from domain.clock import LOCAL_ZONE
from domain.numbers import mask


def to_local(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=timezone.utc).astimezone(LOCAL_ZONE)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


def yuan(fen: int | None) -> str:
    """Integer fen as ¥1,234.56 (no floats: C2)."""
    fen = int(fen or 0)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def yuan_or_dash(fen: int | None) -> str:
    """An amount that may not apply (None) as "—" rather than ¥0.00."""
    return "—" if fen is None else yuan(fen)


def percent(ratio: float | None) -> str:
    """A ratio as 12.3%, "—" without a denominator (filters, not macros: a report renders
    thousands of cells)."""
    return "—" if ratio is None else f"{ratio * 100:.1f}%"


def decimal(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def phone(number: str | None, reveal: bool = False) -> str:
    """A number as the current user may see it: full only for PII users who asked to reveal."""
    if not number:
        return ""
    user = g.get("user")
    if reveal and user is not None and user.pii:
        return number
    return mask(number)


def duration(seconds: int | float | None) -> str:
    seconds = int(seconds or 0)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{sign}{hours}:{minutes:02d}:{secs:02d}" if hours else f"{sign}{minutes}:{secs:02d}"


def register(app) -> None:
    app.jinja_env.filters.update(local=local_time, yuan=yuan, yuan_or_dash=yuan_or_dash, percent=percent,
                                 decimal=decimal, phone=phone, duration=duration)
