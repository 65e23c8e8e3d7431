"""Checks of administrative input shared by the services: codes, free text and amounts in fen.
Each returns the cleaned value or raises InvalidInput with a one-line message."""
from __future__ import annotations

import re

from domain import bounds
from domain.bounds import Bound
from domain.errors import InvalidInput

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_code(value: str, what: str) -> str:
    if not isinstance(value, str) or not CODE_PATTERN.match(value):
        raise InvalidInput("invalid %(what)s code %(value)r: use letters, digits, '_', '-', '.' (max 64)", what=what, value=value)
    return value


def check_text(value: str, what: str, max_length: int = 200) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput("%(what)s must not be empty", what=what)
    if len(value) > max_length:
        raise InvalidInput("%(what)s is longer than %(max_length)s characters", what=what, max_length=max_length)
    return value


def check_fen(value, what: str, bound: Bound = bounds.PRICE_FEN) -> int:
    """Whole fen inside ``bound`` (a price by default; bounds.AMOUNT_FEN for a payment)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("%(what)s must be a whole number of fen", what=what)
    return bound.check(value, what)
