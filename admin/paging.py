"""Keyset paging for every list page, and totals that stay cheap over millions of rows.

A page starts strictly after the last row of the previous one (never OFFSET), so a deep page costs
what the first one does. The total is counted up to ``COUNT_CAP`` rows: beyond that the page says
"more than 1,000" instead of walking an index of a million entries on every view."""
from __future__ import annotations

from dataclasses import dataclass

from peewee import fn

COUNT_CAP = 1_000


@dataclass(frozen=True)
class Total:
    count: int
    capped: bool  # True: there are more than ``count`` rows

    def __add__(self, other: "Total") -> "Total":
        count = self.count + other.count
        return Total(min(count, COUNT_CAP), self.capped or other.capped or count > COUNT_CAP)


def capped_total(query, cap: int = COUNT_CAP) -> Total:
    """How many rows ``query`` (unordered) matches, counting at most ``cap + 1``."""
    inner = query.order_by().limit(cap + 1)
    count = inner.model.select(fn.COUNT(1)).from_(inner.alias("matching")).scalar() or 0
    return Total(min(count, cap), count > cap)


@dataclass
class Page:
    rows: list
    total: Total
    next_before: int | None  # the id to continue after, or None on the last page


def by_id(query, id_field, before: str, size: int) -> Page:
    """Newest first by id; ``before`` is the previous page's last id (text from the URL)."""
    total = capped_total(query)
    if before.isdigit() and len(before) <= 18:
        query = query.where(id_field < int(before))
    rows = list(query.order_by(id_field.desc()).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, total, rows[-1].id if more else None)
