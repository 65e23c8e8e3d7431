"""Calling hours (A8) in the callee's local time; the only place local time appears.

A number that maps to several zones must be inside the windows in all of them; a number with no
known zone cannot be placed in time, so it is outside (fail closed). Chinese statutory holidays
and adjusted working days come from ``chinese_calendar`` and apply to CN callees; weekends are
local Saturdays and Sundays (for CN callees an adjusted working day is not a weekend).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar

from domain.windows import Windows, format_windows

CN_ZONE = "Asia/Shanghai"


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(now_utc: datetime, zone: str) -> datetime:
    return now_utc.replace(tzinfo=timezone.utc).astimezone(_zone(zone))


def _inside(windows: Windows, local: datetime) -> bool:
    minute = local.hour * 60 + local.minute  # end is exclusive: 11:59:59 is in, 12:00:00 is out
    return any(start <= minute < end for start, end in windows)


def _cn_day_kind(day: date) -> str:
    """'workday' (incl. adjusted working days), 'holiday' (statutory), 'weekend', or 'unknown'
    when the year is outside the calendar's data."""
    try:
        off, holiday_name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return "unknown"
    if not off:
        return "workday"
    return "holiday" if holiday_name else "weekend"


def outside_hours(now_utc: datetime, zones: tuple[str, ...], windows: Windows, *, cn: bool,
                  block_holidays: bool, block_weekends: bool) -> str | None:
    """None when calling is allowed in every zone; otherwise why not (English, for the record)."""
    if not zones:
        return "no time zone is known for the number"
    if not windows:
        return "the effective calling windows are empty"
    for zone in zones:
        local = local_time(now_utc, zone)
        where = f"{local:%a %Y-%m-%d %H:%M:%S} in {zone}"
        if not _inside(windows, local):
            return f"{where} is outside {format_windows(windows)}"
        if not (block_holidays or block_weekends):
            continue
        if cn:
            kind = _cn_day_kind(local.date())
            if kind == "unknown":
                return f"{where}: the holiday calendar has no data for {local.year} (update chinesecalendar)"
            if block_holidays and kind == "holiday":
                return f"{where} is a Chinese statutory holiday"
            if block_weekends and kind != "workday" and local.weekday() >= 5:
                return f"{where} is a weekend day"
        elif block_weekends and local.weekday() >= 5:
            return f"{where} is a weekend day"
    return None
