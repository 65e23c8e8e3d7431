"""Data retention: RULEBOOK D1 (dialled numbers) and D2 (a terminated tenant's data).

Four steps, each ``step(now, days, ..., dry_run) -> StepReport``; ``run_retention`` runs all.
An item is due when its age is at least the configured number of days: its timestamp is at or
before ``now - days``.

D1, ``mask_old_numbers``: the callee number and the number as dialled of every call record are
masked irreversibly (``138****8000``: the middle digits are gone, not encrypted) once the record
is due, and so are those numbers wherever the record's stored facts repeat them. Exception: a
number the tenant keeps as a customer, i.e. the same tenant holds a consent record for it that
is neither revoked nor expired; that record is checked again at every run and masked once the
consent ends. Released holds are masked too. ``purge_old_cdr_files`` deletes FreeSWITCH's JSON
CDR files (full numbers) of the same age once reconciliation has moved them to processed/ or
bad/ (an unread one is reported, never deleted). Do-not-call entries are never masked or purged: they
exist to protect the callee and must keep the full number to work. Complaints and consent
records are not dialled-number data (they are the callee's own request and the tenant's
customer record) and stay until D2.

Recordings: ``purge_old_recordings`` deletes recording files after ``recording_retention_days``:
those named by call records (clearing ``recording_path``) and any other audio file under
recording_dir that old (a crashed call never wrote its path). Nothing outside recording_dir is
ever deleted, whatever a stored path says.

D2, ``delete_terminated_tenants``: once ``terminated_delete_days`` have passed since
termination, the tenant's call records, recordings, consents, tenant do-not-call list, holds,
complaints, bans, seats, campaigns and admin logins (with their API tokens) are deleted and its
number leases are released back to the operator's pool. The tenant row and its ledger stay:
the ledger is the financial record of money taken and refunded (accounting and tax law require
keeping it for years, and C4's forfeit/refund must stay provable); the row is what the ledger
and the audit log refer to, and ``data_deleted_at`` marks that its data is gone. Audit entries
stay (D6: operator actions must remain provable, including this deletion).

Each step that changed something writes one audit entry (actor "retention", action
``retention.<step>``, the counts in its detail), and tenant deletion one more per tenant
(``retention.delete_tenant_data``); ``always_audit`` writes the step entry even when nothing was
due (manual runs and the periodic jobs, which act at most hourly). A dry run counts what would
happen and writes nothing, not even an audit entry.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

from domain.numbers import mask
from models.accounts.tables import AdminSession, AdminUser, ApiToken
from models.base import map_json_strings
from models.calls.tables import CallRecord, Hold
from models.complaints.audit import audit
from models.complaints.tables import Complaint
from models.db import for_update, write_transaction
from models.lists.tables import Consent, DoNotCall
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Campaign, Tenant, TenantBan

ACTOR = "retention"
BATCH_SIZE = 500
RECORDING_SUFFIXES = (".wav", ".mp3")
CDR_SUFFIXES = (".json",)


@dataclass
class StepReport:
    step: str
    dry_run: bool
    cutoff: datetime
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, key: str, amount: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + amount

    @property
    def changed(self) -> bool:
        return any(self.counts.get(key, 0) for key in _CHANGE_COUNTS.get(self.step, ()))

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "dry_run": self.dry_run, "cutoff": self.cutoff.isoformat() + "Z",
                "counts": dict(self.counts), "notes": list(self.notes), "errors": list(self.errors)}


# The counts that mean "something was changed" (an audit entry is due), per step.
_CHANGE_COUNTS = {
    "mask_numbers": ("call_records_masked", "holds_masked"),
    "purge_cdr_files": ("cdr_files_deleted",),
    "purge_recordings": ("recordings_deleted", "recording_paths_cleared", "orphan_recordings_deleted"),
    "delete_terminated_tenants": ("tenants_deleted",),
}


def _cutoff(now: datetime, days: int) -> datetime:
    if days < 0:
        raise ValueError("retention days must not be negative")
    return now - timedelta(days=days)


def _audit_step(report: StepReport, always: bool) -> None:
    if report.dry_run or not (always or report.changed):
        return
    audit(ACTOR, f"retention.{report.step}", cutoff=report.cutoff.isoformat() + "Z",
          counts=report.counts, errors=report.errors[:20])


# --- D1: numbers ------------------------------------------------------------------------------


def _national_forms(number: str) -> list[str]:
    forms = [number]
    if number.startswith("+86"):
        forms.append(number[3:])
    return forms


def _scrub(value: Any, replacements: list[tuple[str, str]]) -> Any:
    """A copy of a JSON value with every occurrence of the numbers replaced by their masks."""
    def replace(text: str) -> str:
        for plain, masked in replacements:
            if plain and plain in text:
                text = text.replace(plain, masked)
        return text

    return map_json_strings(value, replace)


def _customers(pairs: set[tuple[int, str]], now: datetime) -> set[tuple[int, str]]:
    """Which (tenant id, number) pairs have a live consent record (the tenant's customers)."""
    if not pairs:
        return set()
    tenants = {tenant for tenant, _ in pairs}
    numbers = {number for _, number in pairs}
    live = (Consent.revoked_at.is_null() & (Consent.expires_at.is_null() | (Consent.expires_at > now)))
    rows = (Consent.select(Consent.tenant, Consent.number)
            .where(Consent.tenant.in_(tenants) & Consent.number.in_(numbers) & live).tuples())
    return {(tenant, number) for tenant, number in rows} & pairs


def mask_old_numbers(now: datetime, retention_days: int, dry_run: bool = False, *,
                     always_audit: bool = False, batch_size: int = BATCH_SIZE) -> StepReport:
    """D1: mask callee_number/dialled of due call records except the tenant's customers."""
    cutoff = _cutoff(now, retention_days)
    report = StepReport("mask_numbers", dry_run, cutoff,
                        {"call_records_masked": 0, "call_records_kept_for_consent": 0, "holds_masked": 0})
    last_id = 0
    while True:
        batch = list(CallRecord.select(CallRecord.id, CallRecord.tenant, CallRecord.callee_number,
                                       CallRecord.dialled, CallRecord.facts)
                     .where((CallRecord.id > last_id) & (CallRecord.numbers_masked == False)  # noqa: E712
                            & (CallRecord.created_at <= cutoff))
                     .order_by(CallRecord.id).limit(batch_size))
        if not batch:
            break
        last_id = batch[-1].id
        pairs = {(r.tenant_id, r.callee_number) for r in batch if r.tenant_id and r.callee_number}
        kept = _customers(pairs, now)
        to_mask = [r for r in batch if (r.tenant_id, r.callee_number) not in kept]
        report.add("call_records_kept_for_consent", len(batch) - len(to_mask))
        report.add("call_records_masked", len(to_mask))
        if dry_run or not to_mask:
            continue
        with write_transaction():
            for record in to_mask:
                replacements = []
                for number in (record.callee_number, record.dialled):
                    for form in _national_forms(number or ""):
                        if form:
                            replacements.append((form, mask(number)))
                replacements.sort(key=lambda pair: -len(pair[0]))  # the longest form first
                CallRecord.update(
                    callee_number=mask(record.callee_number) if record.callee_number else "",
                    dialled=mask(record.dialled) if record.dialled else "",
                    facts=_scrub(record.facts, replacements),
                    numbers_masked=True,
                ).where((CallRecord.id == record.id) & (CallRecord.numbers_masked == False)).execute()  # noqa: E712

    old_holds = (Hold.select(Hold.id, Hold.callee_number)
                 .where((Hold.created_at <= cutoff) & (Hold.callee_number != "")
                        & ~Hold.callee_number.contains("*")
                        & (Hold.released_at.is_null(False) | (Hold.expires_at <= now))))
    holds = list(old_holds)
    report.add("holds_masked", len(holds))
    if not dry_run and holds:
        with write_transaction():
            for hold in holds:
                Hold.update(callee_number=mask(hold.callee_number)).where(Hold.id == hold.id).execute()
    _audit_step(report, always_audit)
    return report


def _old_files(root: Path, cutoff: datetime, suffixes: Iterable[str]) -> list[Path]:
    """Files under ``root`` (not following symlinks out of it) with a suffix and mtime <= cutoff."""
    if not root.is_dir():
        return []
    limit = (cutoff - datetime(1970, 1, 1)).total_seconds()
    found = []
    for directory, _, files in os.walk(root, followlinks=False):
        for name in files:
            path = Path(directory) / name
            if path.suffix.lower() not in suffixes or path.is_symlink():
                continue
            try:
                if path.stat().st_mtime <= limit:
                    found.append(path)
            except FileNotFoundError:
                continue
    return sorted(found)


def _safe_root(directory: Path | str | None, report: StepReport, what: str) -> Path | None:
    if not directory:
        report.notes.append(f"no {what} configured")
        return None
    root = Path(directory).resolve()
    if root == Path(root.anchor) or len(root.parts) < 3:
        report.errors.append(f"refusing to sweep {root}: {what} must be a dedicated directory")
        return None
    return root


def purge_old_cdr_files(now: datetime, retention_days: int, cdr_dir: Path | str | None,
                        dry_run: bool = False, *, always_audit: bool = False) -> StepReport:
    """D1: FreeSWITCH's JSON CDR files hold full numbers; delete them at the same age.

    Only files the reconciliation job has handled (moved into a sub-directory: processed/,
    bad/) are deleted. A file still at the top level was never ingested: deleting it could lose
    a charge, so it is reported instead (the reconciliation job is failing)."""
    cutoff = _cutoff(now, retention_days)
    report = StepReport("purge_cdr_files", dry_run, cutoff, {"cdr_files_deleted": 0, "cdr_files_not_ingested": 0})
    root = _safe_root(cdr_dir, report, "cdr_dir")
    if root is not None:
        for path in _old_files(root, cutoff, CDR_SUFFIXES):
            if path.parent == root:
                report.add("cdr_files_not_ingested")
                continue
            report.add("cdr_files_deleted")
            if not dry_run:
                _unlink(path, report)
        if report.counts["cdr_files_not_ingested"]:
            report.notes.append(f"{report.counts['cdr_files_not_ingested']} CDR file(s) in {root} older than "
                                f"{retention_days} days were never ingested: check `fsapp cdr ingest`")
    _audit_step(report, always_audit)
    return report


# --- recordings -------------------------------------------------------------------------------


def recording_file(recording_dir: Path, stored: str) -> Path | None:
    """The file a stored recording path names, only if it lies inside recording_dir."""
    if not stored:
        return None
    path = Path(stored)
    path = (path if path.is_absolute() else recording_dir / path).resolve()
    return path if path.is_relative_to(recording_dir) else None


def _unlink(path: Path, report: StepReport) -> bool:
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return True
    except OSError as exc:
        report.errors.append(f"cannot delete {path}: {exc.strerror}")
        return False


def purge_old_recordings(now: datetime, retention_days: int, recording_dir: Path | str | None,
                         dry_run: bool = False, *, always_audit: bool = False) -> StepReport:
    """Delete recordings older than ``recording_retention_days`` (inside recording_dir only)."""
    cutoff = _cutoff(now, retention_days)
    report = StepReport("purge_recordings", dry_run, cutoff,
                        {"recordings_deleted": 0, "recordings_missing": 0, "recording_paths_cleared": 0,
                         "recordings_outside_dir": 0, "orphan_recordings_deleted": 0})
    root = _safe_root(recording_dir, report, "recording_dir")
    if root is None:
        _audit_step(report, always_audit)
        return report
    records = list(CallRecord.select(CallRecord.id, CallRecord.recording_path)
                   .where((CallRecord.recording_path != "") & (CallRecord.created_at <= cutoff))
                   .order_by(CallRecord.id))
    handled: set[Path] = set()
    for record in records:
        path = recording_file(root, record.recording_path)
        if path is not None:
            handled.add(path)
        if path is None:
            report.add("recordings_outside_dir")
            report.notes.append(f"call record {record.id}: recording path outside {root} left alone")
            continue
        if path.exists():
            report.add("recordings_deleted")
            if not dry_run and not _unlink(path, report):
                continue
        else:
            report.add("recordings_missing")
        report.add("recording_paths_cleared")
        if not dry_run:
            CallRecord.update(recording_path="").where(CallRecord.id == record.id).execute()
    for path in _old_files(root, cutoff, RECORDING_SUFFIXES):
        if path.resolve() in handled:
            continue  # counted above (still on disk in a dry run or when its deletion failed)
        report.add("orphan_recordings_deleted")
        if not dry_run:
            _unlink(path, report)
    if not dry_run:
        _remove_empty_directories(root, cutoff)
    _audit_step(report, always_audit)
    return report


def _remove_empty_directories(root: Path, cutoff: datetime) -> None:
    """Empty sub-directories older than the cutoff (a fresh one may be about to get a file)."""
    limit = (cutoff - datetime(1970, 1, 1)).total_seconds()
    for directory, subdirectories, files in os.walk(root, topdown=False):
        path = Path(directory)
        if path == root or files or any((path / d).exists() for d in subdirectories):
            continue
        try:
            if path.stat().st_mtime <= limit:
                path.rmdir()
        except OSError:
            continue


# --- D2: terminated tenants -------------------------------------------------------------------


def _tenant_rows(tenant_id: int) -> dict[str, Any]:
    """The queries selecting each kind of row deleted with a terminated tenant's data."""
    users = AdminUser.select(AdminUser.id).where(AdminUser.tenant == tenant_id)
    return {
        "holds": Hold.select().where(Hold.tenant == tenant_id),
        "call_records": CallRecord.select().where(CallRecord.tenant == tenant_id),
        "complaints": Complaint.select().where(Complaint.tenant == tenant_id),
        "consents": Consent.select().where(Consent.tenant == tenant_id),
        "dnc_entries": DoNotCall.select().where((DoNotCall.tenant == tenant_id) & (DoNotCall.scope == "tenant")),
        "bans": TenantBan.select().where(TenantBan.tenant == tenant_id),
        "api_tokens": ApiToken.select().where(ApiToken.user.in_(users)),
        "admin_sessions": AdminSession.select().where(AdminSession.user.in_(users)),
        "admin_users": AdminUser.select().where(AdminUser.tenant == tenant_id),
        "seats": Seat.select().where(Seat.tenant == tenant_id),
        "campaigns": Campaign.select().where(Campaign.tenant == tenant_id),
    }


def delete_terminated_tenants(now: datetime, days: int, recording_dir: Path | str | None,
                              dry_run: bool = False, *, always_audit: bool = False) -> StepReport:
    """D2: delete the data of tenants terminated at least ``days`` ago (see the module docstring)."""
    cutoff = _cutoff(now, days)
    report = StepReport("delete_terminated_tenants", dry_run, cutoff, {"tenants_deleted": 0})
    root = Path(recording_dir).resolve() if recording_dir else None
    due = list(Tenant.select().where((Tenant.status == "terminated") & Tenant.terminated_at.is_null(False)
                                     & (Tenant.terminated_at <= cutoff) & Tenant.data_deleted_at.is_null())
               .order_by(Tenant.id))
    for tenant in due:
        counts = {name: query.count() for name, query in _tenant_rows(tenant.id).items()}
        counts["leases_released"] = (NumberLease.select()
                                     .where((NumberLease.tenant == tenant.id) & NumberLease.released_at.is_null())
                                     .count())
        files, outside = [], 0
        for (stored,) in (CallRecord.select(CallRecord.recording_path)
                          .where((CallRecord.tenant == tenant.id) & (CallRecord.recording_path != "")).tuples()):
            path = recording_file(root, stored) if root else None
            if path is None:
                outside += 1
            elif path.exists():
                files.append(path)
        counts["recordings_deleted"] = len(files)
        counts["recordings_outside_dir"] = outside
        report.notes.append(f"tenant {tenant.code}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
        for key, value in counts.items():
            report.add(key, value)
        report.add("tenants_deleted")
        if dry_run:
            continue
        # Files first: a failure leaves the rows (and the paths) for the next run to retry,
        # never rows gone with files nobody can find any more.
        failed = [path for path in files if not _unlink(path, report)]
        if failed:
            report.add("tenants_deleted", -1)
            report.errors.append(f"tenant {tenant.code}: {len(failed)} recording(s) could not be deleted; "
                                 "its data stays until the next run")
            audit(ACTOR, "retention.delete_tenant_data_failed", tenant=tenant.id, target=tenant.code,
                  undeletable=[str(p) for p in failed[:20]])
            continue
        with write_transaction():
            locked = for_update(Tenant.select().where(Tenant.id == tenant.id)).get()
            if locked.data_deleted_at is not None:
                report.add("tenants_deleted", -1)
                continue  # another node finished it meanwhile
            for name, query in _tenant_rows(tenant.id).items():
                model = query.model
                model.delete().where(model.id.in_(query.select(model.id))).execute()
            NumberLease.update(released_at=now).where(
                (NumberLease.tenant == tenant.id) & NumberLease.released_at.is_null()).execute()
            Tenant.update(data_deleted_at=now).where(Tenant.id == tenant.id).execute()
            audit(ACTOR, "retention.delete_tenant_data", tenant=tenant.id, target=tenant.code,
                  terminated_at=tenant.terminated_at.isoformat() + "Z", **counts)
    _audit_step(report, always_audit)
    return report


# --- all of it --------------------------------------------------------------------------------


def run_retention(now: datetime, *, number_retention_days: int, recording_retention_days: int,
                  terminated_delete_days: int, recording_dir: Path | str | None, cdr_dir: Path | str | None,
                  dry_run: bool = False, always_audit: bool = False) -> list[StepReport]:
    """Every retention step, in an order where each finds the least left to do."""
    return [
        delete_terminated_tenants(now, terminated_delete_days, recording_dir, dry_run, always_audit=always_audit),
        purge_old_recordings(now, recording_retention_days, recording_dir, dry_run, always_audit=always_audit),
        mask_old_numbers(now, number_retention_days, dry_run, always_audit=always_audit),
        purge_old_cdr_files(now, number_retention_days, cdr_dir, dry_run, always_audit=always_audit),
    ]


# --- pacing the periodic jobs (run by fs_app.jobs) -------------------------------------------------------
# `fsapp jobs run` runs every minute on every node; retention works in days, and re-reading the
# call records kept for consent every minute would cost a scan for nothing. So each job acts at
# most once per JOB_INTERVAL, judged by its own audit entries (written at every acting run), and
# says "not due" otherwise. Two nodes acting in the same minute do the same idempotent work.

JOB_INTERVAL = timedelta(hours=1)


def acted_recently(steps: Iterable[str]) -> bool:
    """Whether one of ``steps`` acted (wrote its audit entry) within the last JOB_INTERVAL."""
    from peewee import fn

    from domain.clock import utcnow
    from models.complaints.tables import AuditLog

    last = (AuditLog.select(fn.MAX(AuditLog.at))
            .where((AuditLog.actor == ACTOR) & AuditLog.action.in_([f"retention.{s}" for s in steps])).scalar())
    return last is not None and last > utcnow() - JOB_INTERVAL


def summary(reports: Iterable[StepReport]) -> str:
    """The reports as one line, e.g. ``mask_numbers: call_records_masked=3; purge_cdr_files: nothing due``."""
    parts = []
    for report in reports:
        counts = ", ".join(f"{key}={value}" for key, value in report.counts.items() if value)
        parts.append(f"{report.step}: {counts or 'nothing due'}" + (f" ({len(report.errors)} errors)"
                                                                     if report.errors else ""))
    return "; ".join(parts)
