"""The periodic jobs that `fsapp jobs run` runs (the compose stack runs it every minute, on every
node at once). Every job is idempotent and safe to run concurrently: each piece of work is one
transaction under a row lock, keyed so that a second runner finds it done.

JOBS is a plain list of (name, function); add a job with one line. A job function takes
(settings, at) -- ``at`` is the naive-UTC time the run acts for -- and returns a one-line summary.
The jobs live here, on the fs_app side: they read the settings and call the models' services
with plain values, so the models never learn the settings' shape.
"""
from __future__ import annotations

from datetime import datetime

from models import retention
from models.accounts import users
from models.calls import reservations
from models.complaints import complaints
from models.seats import rent
from models.ledger import termination

from fs_app import cdr


def renew_rents(settings, at: datetime) -> str:
    """C3: renew seats and numbers due within a day; lapse the ones the balance cannot pay."""
    report = rent.renew_due(at=at, seat_period_days=settings.seat_period_days,
                                 number_period_days=settings.number_period_days)
    return report.summary()


def settle_terminations(settings, at: datetime) -> str:
    """C4: pay out terminated tenants' money once no live call holds it."""
    settled = termination.settle_terminated(at=at)
    if not settled:
        return "nothing to settle"
    return "; ".join(f"{code}: {s.summary()}" for code, s in settled)


def ingest_cdrs(settings, at: datetime) -> str:
    """Reconcile FreeSWITCH's JSON CDRs in cdr_dir (then moved to processed/ or bad/)."""
    report = cdr.ingest_directory(settings.cdr_dir, emergency_numbers=settings.emergency_numbers,
                                  region=settings.default_region)
    return report.summary()


def _at_most_hourly(steps: list[str], run) -> str:
    """Retention works in days: act at most once per retention.JOB_INTERVAL (judged by the steps'
    own audit entries), else say "not due"."""
    if retention.acted_recently(steps):
        return f"not due (runs at most every {retention.JOB_INTERVAL})"
    return retention.summary(run())


def retain_numbers(settings, at: datetime) -> str:
    """D1: mask dialled numbers and delete ingested CDR files older than number_retention_days."""
    return _at_most_hourly(["mask_numbers", "purge_cdr_files"], lambda: [
        retention.mask_old_numbers(at, settings.number_retention_days, always_audit=True),
        retention.purge_old_cdr_files(at, settings.number_retention_days, settings.cdr_dir, always_audit=True),
    ])


def retain_recordings(settings, at: datetime) -> str:
    """Delete recordings older than recording_retention_days."""
    return _at_most_hourly(["purge_recordings"], lambda: [
        retention.purge_old_recordings(at, settings.recording_retention_days, settings.recording_dir,
                                       always_audit=True)])


def delete_terminated_tenants(settings, at: datetime) -> str:
    """D2: delete the data of tenants terminated terminated_delete_days ago."""
    return _at_most_hourly(["delete_terminated_tenants"], lambda: [
        retention.delete_terminated_tenants(at, settings.terminated_delete_days, settings.recording_dir,
                                            always_audit=True)])


def disable_idle_logins(settings, at: datetime) -> str:
    """D4: disable logins idle for login_idle_disable_days."""
    disabled = users.disable_idle_logins(at, settings.login_idle_disable_days)
    return f"disabled {len(disabled)} idle login(s)" + (f": {', '.join(disabled)}" if disabled else "")


def guard_complaints(settings, at: datetime) -> str:
    """A15: ban the outbound calls of tenants over the complaint ratio."""
    results = complaints.run_complaint_guard(at, settings.complaint_guard_limits())
    banned = [r for r in results if r.ban is not None]
    if not results:
        return "no complaints in the window"
    return f"{len(results)} tenant(s) checked, {len(banned)} banned" + (
        ": " + "; ".join(r.summary() for r in banned) if banned else "")


def expire_holds(settings, at: datetime) -> str:
    """A3/A13: mark the lapsed reservations of crashed processes released."""
    return f"{reservations.expire(at)} lapsed hold(s) released"


JOBS = [
    ("rents", renew_rents),
    ("terminations", settle_terminations),
    ("cdr", ingest_cdrs),
    ("retention_numbers", retain_numbers),  # D1, acts at most hourly
    ("retention_recordings", retain_recordings),
    ("retention_tenants", delete_terminated_tenants),  # D2
    ("idle_logins", disable_idle_logins),  # D4
    ("complaint_guard", guard_complaints),  # A15
    ("expire_holds", expire_holds),  # A3/A13: crashed processes' reservations
]


def job_names() -> list[str]:
    return [name for name, _ in JOBS]
