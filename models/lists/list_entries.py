"""Consent records and do-not-call entries: single adds, revocation and CSV imports (A6, A7, B3).

Imports stream through ``models.csv_import`` (chunked, one short transaction per chunk). Rows
already recorded are skipped (a do-not-call number already listed in the same scope; a consent
with the same number, source and evidence not revoked), so running an interrupted import again
finishes it and duplicates nothing.
"""
from __future__ import annotations

from typing import TextIO

from domain.bounds import check_time
from domain.clock import parse_iso, utcnow
from domain.errors import InvalidInput
from domain.numbers import normalize
from models.complaints.audit import audit
from models.csv_import import CHUNK_ROWS, ImportReport, import_rows, insert_rows
from models.db import write_transaction
from models.lists.tables import Consent, DoNotCall
from models.tenancy.tables import Tenant
from models.tenancy.tenants import get_tenant

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
            insert_rows(Consent, new)
        return len(new)

    report = import_rows(source, required=("number", "source"), optional=("evidence", "obtained_at", "expires_at"),
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
            insert_rows(DoNotCall, new)
        return len(new)

    report = import_rows(source, required=("number",), optional=("reason",), build=build, write=write, strict=strict,
                     chunk_rows=chunk_rows, on_chunk=on_chunk)
    if report.written:
        with write_transaction():
            audit(actor, "dnc.import", tenant=tenant, target=tenant.code if tenant else "platform",
                  imported=report.imported, skipped=report.skipped_duplicates, bad_rows=len(report.errors))
    return report


def _optional_time(value):
    value = (value or "").strip()
    return parse_iso(value) if value else None
