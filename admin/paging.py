"""Keyset paging for every list page, and totals that stay cheap over millions of rows.

A page starts strictly after the last row of the previous one (never OFFSET), so a deep page costs
what the first one does. The total is counted up to ``COUNT_CAP`` rows: beyond that the page says
"more than 1,000" instead of walking an index of a million entries on every view."""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from peewee import AutoField, DateTimeField, Field, IntegerField, Tuple, Value, fn

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
    next_before: int | str | None  # where the next page starts (an id or a cursor), None on the last page


def by_id(query, id_field, before: str, size: int) -> Page:
    """Newest first by id; ``before`` is the previous page's last id (text from the URL)."""
    total = capped_total(query)
    if before.isdigit() and len(before) <= 18:
        query = query.where(id_field < int(before))
    rows = list(query.order_by(id_field.desc()).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, total, rows[-1].id if more else None)


def by_columns(query, columns: tuple, values_of, after: str, size: int, *, descending: bool = False) -> Page:
    """Keyset paging on any unique ordering: ``columns`` (ending with the id, so the order is
    total) in one direction; ``values_of(row)`` gives a row's values of those columns; ``after``
    is the previous page's cursor (from the URL: a bad one starts at the first page)."""
    total = capped_total(query)
    start = decode_cursor(after, columns)
    if start is not None:
        later = Tuple(*columns) < Tuple(*start) if descending else Tuple(*columns) > Tuple(*start)
        query = query.where(later)
    rows = list(query.order_by(*[c.desc() if descending else c.asc() for c in columns]).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, total, encode_cursor(values_of(rows[-1])) if more else None)


def encode_cursor(values: tuple) -> str:
    shown = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(shown, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str, columns: tuple) -> list | None:
    """The cursor's values as query parameters of ``columns``, or None when it is not one of ours."""
    if not text or len(text) > 400:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(columns):
        return None
    params = []
    for column, value in zip(columns, values):
        value = _typed(column, value)
        if value is None:
            return None
        converter = getattr(column, "db_value", None)
        params.append(Value(value, converter=converter) if converter else Value(value))
    return params


def _typed(column, value):
    """``value`` as the Python type of ``column`` (ordering columns are never null), else None."""
    if isinstance(column, DateTimeField):
        try:
            return datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            return None
    if isinstance(column, (IntegerField, AutoField)):
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(column, Field):
        return value if isinstance(value, str) else None
    return value if isinstance(value, bool) else None  # a condition, e.g. "answered"
