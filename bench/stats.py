"""Figures the benchmarks report: latency percentiles and the sizing figure of a rate sweep.

No gevent here (the call benchmark monkey-patches at import), so tests can import it."""
from __future__ import annotations


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: a latency some call actually had (NaN for no values)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return ordered[index]


def highest_rate_meeting(points: list[dict], p99_ms: float) -> float | None:
    """The highest swept rate at which every call was set up and the p99 met the target, and so
    did every lower rate: a rate past the knee that happens to pass is not a sizing figure."""
    best = None
    for point in sorted(points, key=lambda p: p["rate"]):
        if point["failed"] or not point["setups"] or not point["p99_ms"] <= p99_ms:
            break
        best = point["rate"]
    return best
