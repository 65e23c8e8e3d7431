"""Frequency caps per callee (A9), computed from the times of earlier attempts.

Per tenant: attempts on the callee's local calendar day, in the last 7 and 30 days, and the gap
since the last attempt. Across tenants: attempts in the last 24 hours and 5 minutes. Rolling
windows are half-open, (now - window, now]: an attempt exactly 7 days old no longer counts, and
an attempt exactly 30 minutes ago satisfies a 30-minute gap. When a number maps to several
zones the calendar day counted is the busiest of them (the strictest reading).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from .hours import local_time
from .limits import Limits


def _count_since(times, since: datetime) -> int:
    return sum(1 for t in times if t > since)


def attempts_today(times, now: datetime, zones: tuple[str, ...]) -> int:
    best = 0
    for zone in zones or ("UTC",):
        today = local_time(now, zone).date()
        best = max(best, sum(1 for t in times if local_time(t, zone).date() == today))
    return best


def frequency_problems(tenant_attempts, global_attempts, now: datetime, zones: tuple[str, ...],
                       limits: Limits) -> list[str]:
    """Every cap the next attempt would break, in words; empty when it may go ahead."""
    problems = []
    if tenant_attempts is not None:
        today = attempts_today(tenant_attempts, now, zones)
        if today >= limits.freq_tenant_per_day:
            problems.append(f"{today} attempts by this tenant today (limit {limits.freq_tenant_per_day} a day)")
        week = _count_since(tenant_attempts, now - timedelta(days=7))
        if week >= limits.freq_tenant_per_7_days:
            problems.append(f"{week} attempts by this tenant in 7 days (limit {limits.freq_tenant_per_7_days})")
        month = _count_since(tenant_attempts, now - timedelta(days=30))
        if month >= limits.freq_tenant_per_30_days:
            problems.append(f"{month} attempts by this tenant in 30 days (limit {limits.freq_tenant_per_30_days})")
        if tenant_attempts and limits.freq_tenant_min_gap_minutes > 0:
            last = max(tenant_attempts)
            gap = now - last
            if gap < timedelta(minutes=limits.freq_tenant_min_gap_minutes):
                problems.append(f"last attempt by this tenant {int(gap.total_seconds() // 60)} min ago "
                                f"(at least {limits.freq_tenant_min_gap_minutes} min between attempts)")
    day = _count_since(global_attempts, now - timedelta(hours=24))
    if day >= limits.freq_global_per_24_hours:
        problems.append(f"{day} attempts by all tenants in 24 hours (limit {limits.freq_global_per_24_hours})")
    burst = _count_since(global_attempts, now - timedelta(minutes=5))
    if burst >= limits.freq_global_per_5_minutes:
        problems.append(f"{burst} attempts by all tenants in 5 minutes (limit {limits.freq_global_per_5_minutes})")
    return problems
