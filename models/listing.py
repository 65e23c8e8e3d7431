"""Consent records and do-not-call entries: single adds, revocation and CSV imports (A6, A7, B3).

Imports read the file as a stream, validate row by row (each bad row is reported with its line
number, a NUL byte included) and write the good rows in chunks (``CHUNK_ROWS`` rows or
``CHUNK_BYTES`` of text, whichever comes first), one short
transaction each, so a 100k-row import never holds the write lock for long and calls placed
meanwhile are decided normally (issue 14); memory stays flat whatever the file's size. Rows
already recorded are skipped (a do-not-call number already listed in the same scope; a consent
with the same number, source and evidence not revoked), so running an interrupted import again
finishes it and duplicates nothing. ``strict`` reads the file twice: first only to check it
(any bad row: nothing is written), then to write it.
"""
from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, TextIO

from .audit import audit
from domain.bounds import check_time
from domain.clock import parse_iso, utcnow
from .db import database, is_postgres, write_transaction
from .sql_statements import column_values
from domain.errors import InvalidInput
from .lists import Consent, DoNotCall
from domain.numbers import normalize
from .tenancy import Tenant

# a write transaction takes at most this many rows, or rows of about this many bytes of text
# (long reasons or evidence cost more to write): bench/imports.py measures the longest lock hold
# per chunk, about 65 ms for 1,000 short rows on SQLite (docs/operations.md); the budget is 100 ms
CHUNK_ROWS = 1000
CHUNK_BYTES = 200_000


def get_tenant(code: str) -> Tenant:
    # imported when used: models.provisioning imports models.seats, which imports this module
    from .provisioning import get_tenant as lookup

    return lookup(code)


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


# --- consent --------------------------------------------------------------------------------


def add_consent(tenant_code: str, number: str, *, source: str, evidence: str = "", obtained_at=None,
                expires_at=None, region: str = "CN", actor: str = "system") -> Consent:
    tenant = get_tenant(tenant_code)
    fields = _consent_fields(number, source, evidence, obtained_at, expires_at, region)
    with write_transaction():
        consent = Consent.create(tenant=tenant, **fields)
        audit(actor, "consent.add", tenant=tenant, target=fields["number"], source=fields["source"])
    return consent


def _consent_fields(number, source, evidence, obtained_at, expires_at, region) -> dict:
    e164 = normalize(number, region)
    source = (source or "").strip()
    if not source:
        raise InvalidInput("consent source must not be empty")
    check_time(obtained_at, "obtained_at")
    check_time(expires_at, "expires_at")
    now = utcnow()
    obtained = obtained_at or now
    if obtained > now:
        raise InvalidInput("consent cannot be obtained in the future")
    if expires_at is not None and expires_at <= obtained:
        raise InvalidInput("consent expires before it was obtained")
    return dict(number=e164, source=source[:100], evidence=(evidence or "").strip(), obtained_at=obtained,
                expires_at=expires_at)


def revoke_consent(tenant: Tenant, e164: str, *, reason: str = "revoked", actor: str = "system") -> int:
    """Revoke every active consent of the tenant for the number; returns how many."""
    now = utcnow()
    with write_transaction():
        count = (Consent.update(revoked_at=now, revoked_reason=reason[:100])
                 .where((Consent.tenant == tenant) & (Consent.number == e164) & Consent.revoked_at.is_null())
                 .execute())
        if count:
            audit(actor, "consent.revoke", tenant=tenant, target=e164, reason=reason)
    return count


def revoke_consent_by_code(tenant_code: str, number: str, *, region: str = "CN", actor: str = "system") -> int:
    tenant = get_tenant(tenant_code)
    e164 = normalize(number, region)
    count = revoke_consent(tenant, e164, actor=actor)
    if not count:
        raise InvalidInput("tenant %(tenant_code)s has no active consent for %(e164)s", tenant_code=tenant.code, e164=e164)
    return count


def import_consent(tenant_code: str, source: str | TextIO, *, strict: bool = False, region: str = "CN",
                   actor: str = "system", chunk_rows: int = CHUNK_ROWS, on_chunk=None) -> ImportReport:
    """CSV with a header: number,source[,evidence][,obtained_at][,expires_at]; ``source`` is the
    text or a text stream (see the module docstring)."""
    tenant = get_tenant(tenant_code)

    def build(row: dict) -> dict:
        return _consent_fields(row.get("number", ""), row.get("source", ""), row.get("evidence", ""),
                               _optional_time(row.get("obtained_at")), _optional_time(row.get("expires_at")),
                               region)

    def write(rows: list[dict]) -> int:
        recorded = set(Consent.select(Consent.number, Consent.source, Consent.evidence).where(
            (Consent.tenant == tenant) & Consent.number.in_({r["number"] for r in rows})
            & Consent.revoked_at.is_null()).tuples())
        new = []
        for fields in rows:
            identity = (fields["number"], fields["source"], fields["evidence"])
            if identity not in recorded:
                recorded.add(identity)
                new.append(dict(tenant=tenant.id, created_at=utcnow(), **fields))
        if new:
            _insert_rows(Consent, new)
        return len(new)

    report = _import(source, required=("number", "source"), optional=("evidence", "obtained_at", "expires_at"),
                     build=build, write=write, strict=strict, chunk_rows=chunk_rows, on_chunk=on_chunk)
    if report.written:
        with write_transaction():
            audit(actor, "consent.import", tenant=tenant, target=tenant.code, imported=report.imported,
                  bad_rows=len(report.errors))
    return report


# --- do-not-call ----------------------------------------------------------------------------


def add_dnc(number: str, *, tenant_code: str | None = None, reason: str = "", source: str = "admin",
            source_call: str = "", region: str = "CN", actor: str = "system") -> DoNotCall:
    tenant = get_tenant(tenant_code) if tenant_code else None
    e164 = normalize(number, region)
    return add_dnc_entry(e164, tenant=tenant, reason=reason, source=source, source_call=source_call, actor=actor)


def add_dnc_entry(e164: str, *, tenant: Tenant | None, reason: str = "", source: str = "admin",
                  source_call: str = "", actor: str = "system") -> DoNotCall:
    """Idempotent: an existing entry of the same scope is returned, not duplicated."""
    scope = "tenant" if tenant is not None else "platform"
    with write_transaction():
        existing = DoNotCall.get_or_none(
            (DoNotCall.number == e164) & (DoNotCall.scope == scope)
            & ((DoNotCall.tenant == tenant) if tenant is not None else DoNotCall.tenant.is_null())
            & (DoNotCall.expires_at.is_null() | (DoNotCall.expires_at > utcnow())))
        if existing is not None:
            return existing
        entry = DoNotCall.create(scope=scope, tenant=tenant, number=e164, reason=(reason or "").strip(),
                                 source=source, source_call=source_call, created_by=actor)
        audit(actor, "dnc.add", tenant=tenant, target=e164, scope=scope, source=source, reason=reason)
    return entry


def import_dnc(source: str | TextIO, *, tenant_code: str | None = None, strict: bool = False, region: str = "CN",
               actor: str = "system", chunk_rows: int = CHUNK_ROWS, on_chunk=None) -> ImportReport:
    """CSV with a header: number[,reason]; ``source`` is the text or a text stream."""
    tenant = get_tenant(tenant_code) if tenant_code else None
    scope = "tenant" if tenant is not None else "platform"

    def build(row: dict) -> dict:
        return dict(number=normalize(row.get("number", ""), region), reason=(row.get("reason") or "").strip())

    def write(rows: list[dict]) -> int:
        now = utcnow()
        listed = {number for (number,) in DoNotCall.select(DoNotCall.number).where(
            DoNotCall.number.in_({r["number"] for r in rows}) & (DoNotCall.scope == scope)
            & ((DoNotCall.tenant == tenant) if tenant is not None else DoNotCall.tenant.is_null())
            & (DoNotCall.expires_at.is_null() | (DoNotCall.expires_at > now))).tuples()}
        new = []
        for fields in rows:
            if fields["number"] not in listed:
                listed.add(fields["number"])
                new.append(dict(scope=scope, tenant=tenant.id if tenant is not None else None, number=fields["number"],
                                reason=fields["reason"], source="import", created_by=actor, created_at=now))
        if new:
            _insert_rows(DoNotCall, new)
        return len(new)

    report = _import(source, required=("number",), optional=("reason",), build=build, write=write, strict=strict,
                     chunk_rows=chunk_rows, on_chunk=on_chunk)
    if report.written:
        with write_transaction():
            audit(actor, "dnc.import", tenant=tenant, target=tenant.code if tenant else "platform",
                  imported=report.imported, skipped=report.skipped_duplicates, bad_rows=len(report.errors))
    return report


# --- CSV ------------------------------------------------------------------------------------


def _optional_time(value):
    value = (value or "").strip()
    return parse_iso(value) if value else None


def _import(source, *, required, optional, build, write: Callable[[list[dict]], int], strict: bool,
            chunk_rows: int, on_chunk) -> ImportReport:
    """Stream ``source``'s rows through ``build`` and ``write`` them ``chunk_rows`` at a time, one
    transaction per chunk; ``write`` returns how many rows it added (the rest were duplicates).
    ``on_chunk(report)`` runs after each commit, outside any transaction."""
    stream = _text_stream(source)
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


def _insert_rows(model, rows: list[dict]) -> None:
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


def _text_stream(source) -> TextIO:
    return io.StringIO(source) if isinstance(source, str) else source


def _optional_time(value):
    value = (value or "").strip()
    return parse_iso(value) if value else None


def built_rows(source: str | TextIO, *, required: tuple[str, ...], optional: tuple[str, ...], build,
               report: ImportReport) -> Iterator[tuple[int, object]]:
    """(line number, ``build(row)``) for every good row of a CSV text or stream, read one row at a
    time; each bad row is appended to ``report.errors`` instead. A bad header raises InvalidInput."""
    reader = csv.reader(_text_stream(source))
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


def _validate_csv(text: str, *, required: tuple[str, ...], optional: tuple[str, ...], build, with_lines=False):
    """Every row of a small CSV at once (seat imports): (report with errors, built rows), each row
    as (line number, built row) with ``with_lines``."""
    report = ImportReport()
    rows = [row if with_lines else row[1]
            for row in built_rows(text, required=required, optional=optional, build=build, report=report)]
    return report, rows
