"""The limits a decision applies: platform values from the settings, tightened by a tenant.

The operator sets platform values; a tenant may only make its own stricter (RULEBOOK, preamble of
part A). ``tighten`` enforces that in code whatever the tenant asks for: caps take the minimum,
gaps the maximum, calling windows the intersection, blocking switches and restricted sets the
union. A tenant value that would loosen a limit is ignored, never applied.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from domain.windows import Windows


@dataclass(frozen=True)
class Limits:
    seat_max_calls: int = 1
    windows: Windows = ((9 * 60, 12 * 60), (14 * 60, 18 * 60))
    block_statutory_holidays: bool = False
    block_weekends: bool = False
    freq_tenant_per_day: int = 2
    freq_tenant_per_7_days: int = 5
    freq_tenant_per_30_days: int = 10
    freq_tenant_min_gap_minutes: int = 30
    freq_global_per_24_hours: int = 5
    freq_global_per_5_minutes: int = 3
    consent_required: bool = True
    caller_id_local_required: bool = True
    dnc_expiry_days: int = 0  # 0: entries never expire
    restricted_industries: frozenset[str] = frozenset()
    restricted_provinces: frozenset[str] = frozenset()


# How each limit gets stricter.
_MIN = ("seat_max_calls", "freq_tenant_per_day", "freq_tenant_per_7_days", "freq_tenant_per_30_days",
        "freq_global_per_24_hours", "freq_global_per_5_minutes")
_MAX = ("freq_tenant_min_gap_minutes",)
_ANY = ("block_statutory_holidays", "block_weekends", "consent_required", "caller_id_local_required")
_UNION = ("restricted_industries", "restricted_provinces")


def platform_limits(settings: Any) -> Limits:
    """The operator's limits from the effective settings (fs_app.config.Settings)."""
    values = {}
    for field in fields(Limits):
        if field.name == "windows":
            values["windows"] = tuple(settings.calling_windows)
        elif field.name in _UNION:
            values[field.name] = frozenset(getattr(settings, field.name))
        else:
            values[field.name] = getattr(settings, field.name)
    return Limits(**values)


def intersect_windows(a: Windows, b: Windows) -> Windows:
    """Minutes that are inside a window of ``a`` and inside a window of ``b``."""
    result = []
    for a_start, a_end in a:
        for b_start, b_end in b:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start < end:
                result.append((start, end))
    return tuple(sorted(result))


def tighten(platform: Limits, tenant: Mapping[str, Any]) -> Limits:
    """The platform limits made stricter by the tenant's own values (unknown keys are refused)."""
    changes: dict[str, Any] = {}
    for key, value in tenant.items():
        if value is None:
            continue
        current = getattr(platform, key)  # AttributeError for a key that is not a limit
        if key in _MIN:
            changes[key] = min(current, int(value))
        elif key in _MAX:
            changes[key] = max(current, int(value))
        elif key in _ANY:
            changes[key] = current or bool(value)
        elif key in _UNION:
            changes[key] = current | frozenset(value)
        elif key == "windows":
            changes[key] = intersect_windows(current, tuple(value))
        elif key == "dnc_expiry_days":
            # 0 means "never expire", the strictest; otherwise longer keeps entries longer.
            changes[key] = 0 if (current == 0 or int(value) == 0) else max(current, int(value))
        else:
            raise AttributeError(f"{key} is not a tenant-adjustable limit")
    return replace(platform, **changes)


def is_at_least_as_strict(limits: Limits, platform: Limits) -> bool:
    """True when ``limits`` loosens none of ``platform`` (used by tests and assertions)."""
    ok = all(getattr(limits, k) <= getattr(platform, k) for k in _MIN)
    ok &= all(getattr(limits, k) >= getattr(platform, k) for k in _MAX)
    ok &= all(getattr(limits, k) or not getattr(platform, k) for k in _ANY)
    ok &= all(getattr(limits, k) >= getattr(platform, k) for k in _UNION)
    ok &= intersect_windows(limits.windows, platform.windows) == _merged(limits.windows)
    ok &= platform.dnc_expiry_days == 0 and limits.dnc_expiry_days == 0 or (
        platform.dnc_expiry_days != 0 and (limits.dnc_expiry_days == 0 or limits.dnc_expiry_days >= platform.dnc_expiry_days))
    return ok


def _merged(windows: Windows) -> Windows:
    return tuple(sorted(w for w in windows if w[0] < w[1]))
