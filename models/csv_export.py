"""CSV that a spreadsheet opens as data, never as formulas (OWASP "CSV injection").

Every CSV the product writes (``fsapp calls|complaint list|statement|seat list --format csv``,
the admin's ``/calls/export.csv``) goes through ``CsvWriter``. A text cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return is written with a leading single quote: Excel and
LibreOffice then show it as text instead of evaluating it, and the rest of the value is intact
(a SIP From user of ``=HYPERLINK(...)`` reaches the file as ``'=HYPERLINK(...)``). Lines end
with CRLF (RFC 4180), so a cell holding a carriage return or a newline is always quoted.

Numbers the program computed (``int``, ``float``: fen, seconds, counts, ids) are written as they
are: no caller can put a formula in them, and a negative amount must stay a number.

Phone-number columns (``phone_columns``): a cell that is exactly a well-formed E.164 number
(``+``, a non-zero digit, at most 15 digits in all) is written as it is. A ``+`` followed by
digits only cannot express a formula (a spreadsheet at most reads it as a number), and the file
stays usable: scripts, and the consent/do-not-call importers, get ``+8613800138000`` back.
Anything else in such a column (a masked foreign number ``+14****0100``, a From user of
``+1)*cmd...``) is neutralised like every other cell.
"""
from __future__ import annotations

import csv
import re
from typing import Any, Iterable, Sequence, TextIO

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def safe_cell(value: Any, *, phone_number: bool = False) -> Any:
    """The value as a spreadsheet should see it: text that could start a formula gets a quote."""
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else str(value)
    if phone_number and _E164.fullmatch(text):
        return text
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


class CsvWriter:
    """``csv.writer`` with a header row and every cell passed through ``safe_cell``."""

    def __init__(self, out: TextIO, columns: Sequence[str], *, phone_columns: Iterable[str] = ()):
        phone_columns = set(phone_columns)
        unknown = phone_columns - set(columns)
        if unknown:
            raise ValueError(f"phone columns not among the columns: {sorted(unknown)}")
        # RFC 4180 line ends: with "\n" alone the csv module leaves a bare "\r" in a cell
        # unquoted, and a spreadsheet starts a new row there (a From user could forge rows)
        self._writer = csv.writer(out, lineterminator="\r\n")
        self._phone = [column in phone_columns for column in columns]
        self.writerow(columns)

    def writerow(self, values: Sequence[Any]) -> None:
        if len(values) != len(self._phone):
            raise ValueError(f"expected {len(self._phone)} cells, got {len(values)}")
        self._writer.writerow([safe_cell(value, phone_number=phone)
                               for value, phone in zip(values, self._phone)])
