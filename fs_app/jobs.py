"""The periodic jobs that `fsapp jobs run` runs (the compose stack runs it every minute, on every
node at once). Every job is idempotent and safe to run concurrently: each piece of work is one
transaction under a row lock, keyed so that a second runner finds it done.

JOBS is a plain list of (name, function); add a job with one line. A job function takes
(settings, at) -- ``at`` is the naive-UTC time the run acts for -- and returns a one-line summary.
"""
from __future__ import annotations

from datetime import datetime

from models import accounts, complaints, recurring, reservations, retention, termination

from fs_app import cdr


def renew_rents(settings, at: datetime) -> str:
    """C3: renew seats and numbers due within a day; lapse the ones the balance cannot pay."""
    report = recurring.renew_due(at=at, seat_period_days=settings.seat_period_days,
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


JOBS = [
    ("rents", renew_rents),
    ("terminations", settle_terminations),
    ("cdr", ingest_cdrs),
    ("retention_numbers", retention.numbers_job),  # D1, acts at most hourly
    ("retention_recordings", retention.recordings_job),
    ("retention_tenants", retention.tenants_job),  # D2
    ("idle_logins", accounts.idle_logins_job),  # D4
    ("complaint_guard", complaints.complaint_guard_job),  # A15
    ("expire_holds", reservations.expire_job),  # A3/A13: crashed processes' reservations
]


def job_names() -> list[str]:
    return [name for name, _ in JOBS]
