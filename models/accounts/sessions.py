"""Server-side sessions of the web admin: signing out ends the session on the server.

The signed session cookie carries a random id (256 bits); the database keeps its SHA-256 digest
(a digest is enough for a random secret, as for API tokens), the user, the signing-in address and
an absolute expiry. Every admin request reads its row (one indexed read, never a write: page
views must not queue behind the call path's writes). Signing out deletes the row, so a copy of
the cookie taken before is worthless; a password reset or a disabled login deletes all of the
user's rows (``end_user_sessions``).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from models.accounts.tables import AdminSession, AdminUser
from models.db import write_transaction

SESSION_LIFETIME = timedelta(hours=12)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def open_session(user: AdminUser, *, address: str, now: datetime) -> str:
    """A new session for ``user``; returns its id for the cookie (not stored anywhere else)."""
    session_id = secrets.token_urlsafe(32)
    with write_transaction():
        AdminSession.delete().where(AdminSession.expires_at <= now).execute()  # everybody's expired ones
        AdminSession.create(user=user, id_digest=_digest(session_id), created_at=now,
                            expires_at=now + SESSION_LIFETIME, address=(address or "")[:64])
    return session_id


def session_user(session_id: str | None, now: datetime) -> AdminUser | None:
    """The active user of a live session, or None (unknown, signed out, expired, disabled)."""
    if not session_id or not isinstance(session_id, str):
        return None
    row = (AdminSession.select(AdminSession, AdminUser).join(AdminUser)
           .where((AdminSession.id_digest == _digest(session_id)) & (AdminSession.expires_at > now))
           .first())
    if row is None or not row.user.active:
        return None
    return row.user


def close_session(session_id: str | None) -> bool:
    """Sign out: the session is gone for every copy of its cookie."""
    if not session_id or not isinstance(session_id, str):
        return False
    with write_transaction():
        return AdminSession.delete().where(AdminSession.id_digest == _digest(session_id)).execute() > 0


def end_user_sessions(user_id: int) -> int:
    """Delete every session of a user (call it inside the transaction that changes the user)."""
    return AdminSession.delete().where(AdminSession.user == user_id).execute()
