"""Login throttling: whether a username may try a password from a client address now.

Two limits, both over a sliding window of WINDOW_MINUTES (docs/admin.md, "Logins"):
- one username from one address: MAX_FAILURES_PER_PAIR wrong passwords refuse that username from
  that address until the oldest of them leaves the window. Someone guessing from elsewhere
  cannot lock the real user out: the lock is theirs, not the user's. A successful login of the
  pair, a password reset or an unlock of the username starts the count again;
- one address, whatever the usernames: MAX_ATTEMPTS_PER_ADDRESS failed or refused attempts
  refuse the address (a password sprayer, or someone still trying a refused pair).

The counts are the audit rows ``login.failed`` / ``login.refused`` (actor: the username as typed,
target: the address), so every admin process and node shares them. They are kept per username
as typed, existing or not: an unknown username locks exactly like a real one, so a lock reveals
nothing about who exists.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from peewee import fn

from models.complaints.tables import AuditLog

MAX_FAILURES_PER_PAIR = 5
MAX_ATTEMPTS_PER_ADDRESS = 20  # one office behind NAT shares an address: a little more room
WINDOW_MINUTES = 15

FAILED = "login.failed"
REFUSED = "login.refused"


def _since(now: datetime) -> datetime:
    return now - timedelta(minutes=WINDOW_MINUTES)


def address_attempts(address: str, now: datetime) -> int:
    """Failed and refused logins from ``address`` in the window."""
    return (AuditLog.select(fn.COUNT(AuditLog.id))
            .where(AuditLog.action.in_((FAILED, REFUSED)) & (AuditLog.target == address)
                   & (AuditLog.at > _since(now)))
            .scalar())


def pair_failures(username: str, address: str, now: datetime) -> int:
    """Wrong passwords for ``username`` from ``address`` in the window, since the pair last
    signed in or the username's password was reset or its lock ended (``user.unlock``)."""
    since = _since(now)
    cleared = (AuditLog.select(fn.MAX(AuditLog.id))
               .where((AuditLog.at > since)
                      & (((AuditLog.action == "login.ok") & (AuditLog.actor == username) & (AuditLog.target == address))
                         | (AuditLog.action.in_(("user.reset_password", "user.unlock"))
                            & (AuditLog.target == username))))
               .scalar()) or 0
    return (AuditLog.select(fn.COUNT(AuditLog.id))
            .where((AuditLog.action == FAILED) & (AuditLog.actor == username) & (AuditLog.target == address)
                   & (AuditLog.at > since) & (AuditLog.id > cleared))
            .scalar())


def address_blocked(address: str, now: datetime) -> bool:
    return address_attempts(address, now) >= MAX_ATTEMPTS_PER_ADDRESS


def pair_blocked(username: str, address: str, now: datetime) -> bool:
    return pair_failures(username, address, now) >= MAX_FAILURES_PER_PAIR


def locked_addresses(username: str, now: datetime) -> list[str]:
    """The addresses from which ``username`` is refused now for wrong passwords (for the admin's
    user list: a lock to end with ``accounts.unlock_user``)."""
    addresses = (AuditLog.select(AuditLog.target).distinct()
                 .where((AuditLog.action == FAILED) & (AuditLog.actor == username) & (AuditLog.at > _since(now))))
    return sorted(a for (a,) in addresses.tuples() if pair_blocked(username, a, now))
