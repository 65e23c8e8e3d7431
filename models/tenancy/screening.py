"""Script screening by keyword categories (RULEBOOK A11-A12): a hit sends a script to review."""
from __future__ import annotations

import re
from typing import Mapping, Sequence


def _matches(term: str, text_lower: str) -> bool:
    # Latin terms match whole words ("stock" must not hit "stockholm"); CJK terms have no word
    # boundaries and match as substrings.
    if term.isascii():
        return re.search(r"(?<![a-z0-9])" + re.escape(term.lower()) + r"(?![a-z0-9])", text_lower) is not None
    return term.lower() in text_lower


def screen_script(script: str, categories: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """{category: [terms found]} for every category with at least one hit."""
    text_lower = script.lower()
    hits = {}
    for category, terms in categories.items():
        found = sorted({t for t in terms if t and _matches(t, text_lower)})
        if found:
            hits[category] = found
    return hits
