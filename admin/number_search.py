"""Finding a phone number on a list page: the whole number, a prefix (``138*``) or a suffix (``*8000``).

D3 decides how much a user may type: someone without the PII permission sees ``138****8000``, so
may search by at most the first 3 national digits (``138*``) or the last 4 (``*8000``), never by
more than the mask shows (a longer prefix or suffix would let them confirm hidden digits one
by one). PII users may search by any prefix or suffix. A whole number may be searched by anyone
(they typed it: the page still shows it masked)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from peewee import Value

from domain.numbers import try_normalize

SHOWN_PREFIX_DIGITS = 3  # domain.numbers.mask shows 3 national digits in front ...
SHOWN_SUFFIX_DIGITS = 4  # ... and 4 at the end
_PREFIX = re.compile(r"^(\+?\d{1,15})\*$")
_SUFFIX = re.compile(r"^\*(\d{1,15})$")


@dataclass(frozen=True)
class NumberSearch:
    kind: str  # "" (nothing asked), "exact", "prefix", "suffix", "invalid", "too_long"
    value: str = ""

    @property
    def usable(self) -> bool:
        return self.kind in ("exact", "prefix", "suffix")

    def apply(self, query, field):
        """``query`` narrowed to numbers matching (E.164 as stored); unusable searches match nothing."""
        if not self.kind:
            return query
        if self.kind == "exact":
            return query.where(field == self.value)
        if self.kind == "prefix":
            return query.where(field ** Value(self.value + "%", converter=False))
        if self.kind == "suffix":
            return query.where(field ** Value("%" + self.value, converter=False))
        return query.where(field.is_null() & field.is_null(False))  # matches nothing


def parse(text: str, *, pii: bool, region: str = "CN") -> NumberSearch:
    text = (text or "").strip().replace(" ", "").replace("-", "")
    if not text:
        return NumberSearch("")
    prefix, suffix = _PREFIX.match(text), _SUFFIX.match(text)
    if prefix:
        digits = prefix.group(1)
        national = digits[3:] if digits.startswith("+86") else digits.lstrip("+")
        if not pii and len(national) > SHOWN_PREFIX_DIGITS:
            return NumberSearch("too_long")
        # stored numbers are E.164: a national prefix of a CN number is +86 followed by it
        return NumberSearch("prefix", digits if digits.startswith("+") else "+86" + digits.lstrip("0"))
    if suffix:
        digits = suffix.group(1)
        if not pii and len(digits) > SHOWN_SUFFIX_DIGITS:
            return NumberSearch("too_long")
        return NumberSearch("suffix", digits)
    whole = try_normalize(text, region)
    return NumberSearch("exact", whole) if whole else NumberSearch("invalid")
