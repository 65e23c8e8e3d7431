"""Streaming CSV imports shared by the list imports and the seat import (A6, A7, A3).

Imports read the file as a stream, validate row by row (each bad row is reported with its line
number, a NUL byte included) and write the good rows in chunks (``CHUNK_ROWS`` rows or
``CHUNK_BYTES`` of text, whichever comes first), one short transaction each, so a 100k-row import
never holds the write lock for long and calls placed meanwhile are decided normally (issue 14);
memory stays flat whatever the file's size. ``strict`` reads the file twice: first only to check
it (any bad row: nothing is written), then to write it.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, TextIO

from domain.errors import InvalidInput
from models.db import database, is_postgres, write_transaction
from models.sql_statements import column_values

# a write transaction takes at most this many rows, or rows of about this many bytes of text
# (long reasons or evidence cost more to write): bench/imports.py measures the longest lock hold
# per chunk, about 65 ms for 1,000 short rows on SQLite (docs/operations.md); the budget is 100 ms
CHUNK_ROWS = 1000


CHUNK_BYTES = 200_000


@dataclass
class ImportReport:
    imported: int = 0
    skipped_duplicates: int = 0
    errors: list[tuple[int, InvalidInput]] = field(default_factory=list)  # (line number, why; str() is the line)
    written: bool = True
    chunks: int = 0  # write transactions committed

    @property
    def ok(self) -> bool:
        return not self.errors


def import_rows(source, *, required, optional, build, write: Callable[[list[dict]], int], strict: bool,
            chunk_rows: int, on_chunk) -> ImportReport:
    """Stream ``source``'s rows through ``build`` and ``write`` them ``chunk_rows`` at a time, one
    transaction per chunk; ``write`` returns how many rows it added (the rest were duplicates).
    ``on_chunk(report)`` runs after each commit, outside any transaction."""
    stream = text_stream(source)
    if strict:
        check = ImportReport(written=False)
        for _ in built_rows(stream, required=required, optional=optional, build=build, report=check):
            pass
        if check.errors:
            return check
        stream.seek(0)
    report = ImportReport()
    chunk: list[dict] = []
    chunk_bytes = 0
    rows = built_rows(stream, required=required, optional=optional, build=build, report=report)
    while True:
        row = next(rows, None)
        if row is not None:
            chunk.append(row[1])
            chunk_bytes += sum(len(value) for value in row[1].values() if isinstance(value, str))
        if chunk and (len(chunk) >= chunk_rows or chunk_bytes >= CHUNK_BYTES or row is None):
            with write_transaction():
                added = write(chunk)
            report.imported += added
            report.skipped_duplicates += len(chunk) - added
            report.chunks += 1
            chunk, chunk_bytes = [], 0
            if on_chunk is not None:
                on_chunk(report)
            time.sleep(0)  # under gevent: let live calls use the database between chunks
        if row is None:
            return report


def insert_rows(model, rows: list[dict]) -> None:
    """INSERT many rows in one statement text (model defaults filled in). peewee's insert_many
    compiles its SQL in Python at about 0.1 ms a row, inside the write lock: 5 times slower."""
    fields = [f for f in model._meta.sorted_fields if f.name != "id"]
    columns = ", ".join(f'"{f.column_name}"' for f in fields)
    values = [column_values(fields, row) for row in rows]
    table = model._meta.table_name
    cursor = database.cursor()
    if is_postgres():
        from psycopg2.extras import execute_values

        execute_values(cursor, f'INSERT INTO "{table}" ({columns}) VALUES %s', values, page_size=len(values))
    else:
        cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * len(fields))})', values)


def text_stream(source) -> TextIO:
    return io.StringIO(source) if isinstance(source, str) else source


def built_rows(source: str | TextIO, *, required: tuple[str, ...], optional: tuple[str, ...], build,
               report: ImportReport) -> Iterator[tuple[int, object]]:
    """(line number, ``build(row)``) for every good row of a CSV text or stream, read one row at a
    time; each bad row is appended to ``report.errors`` instead. A bad header raises InvalidInput."""
    reader = csv.reader(text_stream(source))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV file is empty") from None
    except csv.Error as exc:
        raise InvalidInput("line 1: %(exc)s", exc=exc) from None
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text") from None
    columns = [h.strip().lower() for h in header]
    if columns and columns[0].startswith("\ufeff"):
        columns[0] = columns[0][1:].strip()  # Excel writes a BOM
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInput("line 1: missing column(s) %(missing)s; expected header %(header)s",
                           missing=", ".join(missing), header=",".join(required + optional))
    unknown = [c for c in columns if c not in required + optional]
    if unknown:
        raise InvalidInput("line 1: unknown column(s) %(unknown)s", unknown=", ".join(unknown))
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            report.errors.append((reader.line_num, InvalidInput("%(error)s", error=str(exc))))
            continue
        except UnicodeDecodeError:
            report.errors.append((reader.line_num + 1, InvalidInput(
                "the file is not UTF-8 text from here on: nothing after line %(line)s was imported",
                line=reader.line_num)))
            return
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines are not errors
        if any("\x00" in v for v in values):
            report.errors.append((line, InvalidInput("the row contains a NUL byte")))
            continue
        if len(values) != len(columns):
            report.errors.append((line, InvalidInput("expected %(expected)s fields, got %(got)s",
                                                      expected=len(columns), got=len(values))))
            continue
        try:
            yield line, build(dict(zip(columns, values)))
        except InvalidInput as exc:
            report.errors.append((line, exc))


def validate_csv(text: str, *, required: tuple[str, ...], optional: tuple[str, ...], build, with_lines=False):
    """Every row of a small CSV at once (seat imports): (report with errors, built rows), each row
    as (line number, built row) with ``with_lines``."""
    report = ImportReport()
    rows = [row if with_lines else row[1]
            for row in built_rows(text, required=required, optional=optional, build=build, report=report)]
    return report, rows
