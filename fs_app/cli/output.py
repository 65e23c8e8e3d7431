"""Rendering rows as a table, CSV or JSON for the listing commands."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Iterable, Sequence, TextIO

from models.csv_export import CsvWriter


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    return value


def _csv_value(value: Any) -> Any:
    """Times and lists as the table shows them; numbers stay numbers for CsvWriter (a negative
    amount is not text to neutralise)."""
    return _cell(value) if isinstance(value, (datetime, list, tuple)) else value


def write_rows(out: TextIO, columns: Sequence[str], rows: Sequence[dict], fmt: str = "table", *,
               phone_columns: Iterable[str] = ()) -> None:
    """``phone_columns``: columns of E.164 numbers, left usable in CSV (models.csv_export)."""
    if fmt == "json":
        json.dump([{c: _jsonable(r.get(c)) for c in columns} for r in rows], out, ensure_ascii=False, indent=1)
        out.write("\n")
    elif fmt == "csv":
        writer = CsvWriter(out, columns, phone_columns=phone_columns)
        for row in rows:
            writer.writerow([_csv_value(row.get(c)) for c in columns])
    else:
        cells = [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip() + "\n")
        for row in cells:
            out.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def write_json(out: TextIO, document: Any) -> None:
    json.dump(document, out, ensure_ascii=False, indent=1, default=_jsonable)
    out.write("\n")
