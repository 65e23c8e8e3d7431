"""Rating (RULEBOOK C1, C2, A13): pure integer arithmetic in fen, shared by admission, metering
and reports so a price is computed one way everywhere.

Rates are fen per minute. Talk time is rounded up to whole billing increments (60 s by default);
an answered call of 1 s costs one increment; unanswered calls are free. With an increment other
than 60 s the price of the increments is rounded up to a whole fen, once per call.
"""
from __future__ import annotations

from .bounds import MAX_TALK_SECONDS


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def billed_increments(billsec: int, increment_s: int = 60) -> int:
    return ceil_div(billsec, increment_s) if billsec > 0 else 0


def billed_minutes(billsec: int) -> int:
    """Whole minutes for reports: ceil(billsec / 60)."""
    return ceil_div(billsec, 60) if billsec > 0 else 0


def call_charge(billsec: int, rate_per_minute_fen: int, increment_s: int = 60, connect_fee_fen: int = 0) -> int:
    """What an answered call of ``billsec`` seconds costs; 0 when it was not answered."""
    if billsec <= 0:
        return 0
    increments = billed_increments(billsec, increment_s)
    return connect_fee_fen + ceil_div(increments * increment_s * rate_per_minute_fen, 60)


def minimum_charge(rate_per_minute_fen: int, increment_s: int = 60, connect_fee_fen: int = 0) -> int:
    """The price of the first increment: what a call needs available to be admitted (A13)."""
    return call_charge(1, rate_per_minute_fen, increment_s, connect_fee_fen)


def affordable_seconds(available_fen: int, rate_per_minute_fen: int, increment_s: int = 60,
                       connect_fee_fen: int = 0) -> int | None:
    """Longest talk time, in whole increments, that ``available_fen`` pays for, at most
    ``bounds.MAX_TALK_SECONDS`` (a large balance at a small rate buys more seconds than the
    32-bit duration column and a datetime can hold; no call lasts that long).

    None when the rate is zero (time is not limited by money); 0 when not even one increment fits.
    """
    if rate_per_minute_fen <= 0:
        return None if available_fen >= connect_fee_fen else 0
    budget = available_fen - connect_fee_fen
    if budget <= 0:
        return 0
    # largest n with ceil(n * increment * rate / 60) <= budget  <=>  n * increment * rate <= budget * 60
    increments = (budget * 60) // (increment_s * rate_per_minute_fen)
    return min(increments, MAX_TALK_SECONDS // increment_s) * increment_s
