"""Consent records and do-not-call entries: single adds, revocation and CSV imports (A6, A7, B3).

Imports validate every row first and report each bad one with its line number; the good rows
are written in one transaction (or none at all in strict mode), so a broken file loses nothing
and never half-applies a row.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from .audit import audit
from .bounds import check_time
from .clock import parse_iso, utcnow
from .db import write_transaction
from .errors import InvalidInput
from .lists import Consent, DoNotCall
from .numbers import normalize
from .provisioning import get_tenant
from .tenancy import Tenant


@dataclass
class ImportReport:
    imported: int = 0
    skipped_duplicates: int = 0
    errors: list[tuple[int, InvalidInput]] = field(default_factory=list)  # (line number, why; str() is the line)
    written: bool = True

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


def import_consent(tenant_code: str, text: str, *, strict: bool = False, region: str = "CN",
                   actor: str = "system") -> ImportReport:
    """CSV with a header: number,source[,evidence][,obtained_at][,expires_at]."""
    tenant = get_tenant(tenant_code)

    def build(row: dict) -> dict:
        return _consent_fields(row.get("number", ""), row.get("source", ""), row.get("evidence", ""),
                               _optional_time(row.get("obtained_at")), _optional_time(row.get("expires_at")),
                               region)

    report, rows = _validate_csv(text, required=("number", "source"),
                                 optional=("evidence", "obtained_at", "expires_at"), build=build)
    if strict and report.errors:
        report.written = False
        return report
    with write_transaction():
        for fields in rows:
            Consent.create(tenant=tenant, **fields)
        report.imported = len(rows)
        audit(actor, "consent.import", tenant=tenant, target=tenant.code, imported=len(rows),
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


def import_dnc(text: str, *, tenant_code: str | None = None, strict: bool = False, region: str = "CN",
               actor: str = "system") -> ImportReport:
    """CSV with a header: number[,reason]."""
    tenant = get_tenant(tenant_code) if tenant_code else None

    def build(row: dict) -> dict:
        return dict(number=normalize(row.get("number", ""), region), reason=(row.get("reason") or "").strip())

    report, rows = _validate_csv(text, required=("number",), optional=("reason",), build=build)
    if strict and report.errors:
        report.written = False
        return report
    with write_transaction():
        before = DoNotCall.select().count()
        for fields in rows:
            add_dnc_entry(fields["number"], tenant=tenant, reason=fields["reason"], source="import", actor=actor)
        report.imported = DoNotCall.select().count() - before
        report.skipped_duplicates = len(rows) - report.imported
        audit(actor, "dnc.import", tenant=tenant, target=tenant.code if tenant else "platform",
              imported=report.imported, bad_rows=len(report.errors))
    return report


# --- CSV ------------------------------------------------------------------------------------


def _optional_time(value):
    value = (value or "").strip()
    return parse_iso(value) if value else None


def _validate_csv(text: str, *, required: tuple[str, ...], optional: tuple[str, ...], build, with_lines=False):
    """Parse and validate every row; returns (report with errors, list of built rows), each row
    as (line number, built row) with ``with_lines``."""
    report = ImportReport()
    if text.startswith("\ufeff"):
        text = text[1:]  # Excel writes a BOM
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("the CSV file is empty") from None
    except csv.Error as exc:
        raise InvalidInput("line 1: %(exc)s", exc=exc) from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in required if c not in columns]
    if missing:
        raise InvalidInput("line 1: missing column(s) %(missing)s; expected header %(header)s",
                           missing=", ".join(missing), header=",".join(required + optional))
    unknown = [c for c in columns if c not in required + optional]
    if unknown:
        raise InvalidInput("line 1: unknown column(s) %(unknown)s", unknown=", ".join(unknown))
    rows = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            report.errors.append((reader.line_num, InvalidInput("%(error)s", error=str(exc))))
            continue
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines are not errors
        if len(values) != len(columns):
            report.errors.append((line, InvalidInput("expected %(expected)s fields, got %(got)s",
                                                      expected=len(columns), got=len(values))))
            continue
        try:
            built = build(dict(zip(columns, values)))
            rows.append((line, built) if with_lines else built)
        except InvalidInput as exc:
            report.errors.append((line, exc))
    return report, rows
