"""Admin users and API tokens (RULEBOOK D3, D4, D7).

Passwords are stored with argon2id (a slow hash). Logins are throttled per username and client
address and per address (``login_throttle``: counted in the audit log, so every admin process
shares one count). Every refusal looks the same from outside: one message, and one password
hash verified whether the username exists, is disabled or locked, so neither the answer nor its
time tells who has a login. API tokens are shown once, stored as a SHA-256 digest of 32 random
bytes (a slow hash buys nothing for a random secret) and can be revoked.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import fn

from domain.clock import utcnow
from domain.errors import ForeignReference, InvalidInput, NotFound
from models.accounts import login_throttle
from models.accounts.sessions import end_user_sessions
from models.accounts.tables import USER_ROLES, AdminUser, ApiToken
from models.complaints.audit import audit
from models.db import write_transaction
from models.tenancy.tenants import get_tenant

USERNAME_MIN, USERNAME_MAX = 2, 100
PASSWORD_MIN_LENGTH = 10
TOKEN_PREFIX = "fsa_"
UNLOCK = "user.unlock"  # an audit action login_throttle reads

password_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of a password nobody has, checked when the username is unknown so that the answer
    takes as long as for a real user. Made on first use: every `fsapp` command imports this
    module and should not pay for an argon2 hash it never needs."""
    return password_hasher.hash(secrets.token_urlsafe(16))


def prepare_logins() -> None:
    """Make the dummy hash now (the admin does at start), or the first unknown username a process
    sees would be the one answer that costs two hashes."""
    _dummy_hash()


def hash_password(password: str) -> str:
    return password_hasher.hash(password)


def check_password_strength(password: str) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_LENGTH:
        raise InvalidInput("password must be at least %(length)s characters", length=PASSWORD_MIN_LENGTH)
    if len(password) > 200:
        raise InvalidInput("password is longer than 200 characters")
    if password.strip() != password:
        raise InvalidInput("password must not start or end with whitespace")
    return password


def generate_password() -> str:
    return secrets.token_urlsafe(12)  # 16 characters, ~96 bits


def get_user(username: str) -> AdminUser:
    user = AdminUser.get_or_none(AdminUser.username == (username or "").strip())
    if user is None:
        raise NotFound("unknown user %(username)r", username=username)
    return user


def add_user(username: str, *, role: str, password: str, tenant_code: str | None = None, pii: bool = False,
             actor: str = "system") -> AdminUser:
    username = (username or "").strip()
    if not (USERNAME_MIN <= len(username) <= USERNAME_MAX) or not all(c.isalnum() or c in "._-@" for c in username):
        raise InvalidInput("invalid username %(username)r: %(shortest)s-%(longest)s letters, digits, '.', '_', '-', '@'", username=username, shortest=USERNAME_MIN, longest=USERNAME_MAX)
    if role not in USER_ROLES:
        raise InvalidInput("invalid role %(role)r: expected one of %(choices)s", role=role, choices=", ".join(USER_ROLES))
    if role == "tenant_admin" and not tenant_code:
        raise InvalidInput("a tenant_admin needs --tenant")
    if role != "tenant_admin" and tenant_code:
        raise InvalidInput("a %(role)s sees all tenants: do not give --tenant", role=role)
    tenant = get_tenant(tenant_code) if tenant_code else None
    check_password_strength(password)
    password_hash = hash_password(password)
    with write_transaction():
        if AdminUser.select().where(AdminUser.username == username).exists():
            raise InvalidInput("user %(username)r already exists", username=username)
        user = AdminUser.create(username=username, password_hash=password_hash, role=role, tenant=tenant,
                                pii=bool(pii))
        audit(actor, "user.add", tenant=tenant, target=username, role=role, pii=bool(pii))
    return user


def disable_user(username: str, *, reason: str = "disabled", actor: str = "system") -> AdminUser:
    user = get_user(username)
    if not user.active:
        raise InvalidInput("user %(username)r is already disabled", username=username)
    with write_transaction():
        AdminUser.update(active=False, disabled_at=utcnow(), disabled_reason=reason[:100]).where(
            AdminUser.id == user.id).execute()
        end_user_sessions(user.id)
        audit(actor, "user.disable", tenant=user.tenant_id, target=user.username, reason=reason)
    return AdminUser.get_by_id(user.id)


def reset_password(username: str, password: str | None = None, *, actor: str = "system") -> str:
    """Set a new password (generated when not given), re-enable the login and clear its lock
    (the audit row of the reset starts the throttle's count again, ``login_throttle``).

    Returns the password so the caller can show it once. Every existing session ends."""
    user = get_user(username)
    password = check_password_strength(password) if password is not None else generate_password()
    with write_transaction():
        AdminUser.update(password_hash=hash_password(password), active=True, disabled_at=None,
                         disabled_reason="", enabled_at=utcnow() if not user.active else user.enabled_at).where(
            AdminUser.id == user.id).execute()
        end_user_sessions(user.id)
        audit(actor, "user.reset_password", tenant=user.tenant_id, target=user.username)
    return password


def enable_user(username: str, *, actor: str = "system") -> AdminUser:
    """Let a disabled login sign in again with its own password (a login disabled for idleness,
    D4, whose user still knows it). The idle count starts again from now."""
    user = get_user(username)
    if user.active:
        raise InvalidInput("user %(username)r is already enabled", username=username)
    with write_transaction():
        AdminUser.update(active=True, disabled_at=None, disabled_reason="", enabled_at=utcnow()).where(
            AdminUser.id == user.id).execute()
        audit(actor, "user.enable", tenant=user.tenant_id, target=user.username,
              was_disabled_for=user.disabled_reason)
    return AdminUser.get_by_id(user.id)


def unlock_user(username: str, *, actor: str = "system") -> AdminUser:
    """End the lock of a username after wrong passwords, from every address, without a new
    password: the audit row of the unlock starts the throttle's count again
    (``login_throttle.pair_failures``). An address locked as a whole stays locked: that lock is
    about the address, whatever the username."""
    user = get_user(username)
    with write_transaction():
        audit(actor, UNLOCK, tenant=user.tenant_id, target=user.username)
    return user


def set_pii(username: str, pii: bool, *, actor: str = "system") -> AdminUser:
    """Grant or revoke the permission to reveal full phone numbers (D3)."""
    user = get_user(username)
    if user.pii == bool(pii):
        raise InvalidInput("user %(username)r already has the PII permission" if pii
                           else "user %(username)r does not have the PII permission", username=username)
    with write_transaction():
        AdminUser.update(pii=bool(pii)).where(AdminUser.id == user.id).execute()
        audit(actor, "user.pii", tenant=user.tenant_id, target=user.username, pii=bool(pii))
    return AdminUser.get_by_id(user.id)


def idle_since(user: AdminUser) -> datetime:
    """Where the idle rule (D4) counts from: the last sign-in (or, never used, the creation), or
    the last re-enabling when that came later."""
    since = user.last_login_at or user.created_at
    return max(since, user.enabled_at) if user.enabled_at else since


def idle_disable_at(user: AdminUser, idle_days: int) -> datetime:
    """When the idle rule (``idle_days`` unused) will disable this login if nobody signs in with it."""
    return idle_since(user) + timedelta(days=idle_days)


# --- login ----------------------------------------------------------------------------------


@dataclass
class LoginResult:
    user: AdminUser | None
    # why a login was refused, for the audit log and tests; the client sees one message for all
    error: str = ""  # "invalid" | "locked" | "disabled"

    @property
    def ok(self) -> bool:
        return self.user is not None


def _password_matches(user: AdminUser | None, password: str) -> bool:
    """Exactly one argon2 verification, against a dummy hash when there is no such user."""
    try:
        password_hasher.verify(user.password_hash if user else _dummy_hash(), password or "")
    except (VerificationError, InvalidHashError):
        return False
    return user is not None


def authenticate(username: str, password: str, *, address: str, now: datetime | None = None) -> LoginResult:
    """Check a login (throttling: ``login_throttle``). Failures and refusals are audited with the
    address as target; successes too.

    Apart from a throttled address (which says nothing about any username), every attempt
    verifies one password hash before it is refused, whatever the reason: an unknown username,
    a wrong password, a disabled login or a locked username answer alike and take as long."""
    now = now or utcnow()
    username = (username or "").strip()[:USERNAME_MAX]
    actor = username or "-"
    if login_throttle.address_blocked(address, now):
        audit(actor, login_throttle.REFUSED, target=address, why="address_locked")
        return LoginResult(None, "locked")
    user = AdminUser.get_or_none(AdminUser.username == username) if username else None
    tenant = user.tenant_id if user else None
    verified = _password_matches(user, password)
    if login_throttle.pair_blocked(actor, address, now):
        audit(actor, login_throttle.REFUSED, tenant=tenant, target=address, why="user_locked")
        return LoginResult(None, "locked")
    if not verified:
        audit(actor, login_throttle.FAILED, tenant=tenant, target=address)
        return LoginResult(None, "invalid")
    if not user.active:
        audit(actor, login_throttle.REFUSED, tenant=tenant, target=address, why="disabled")
        return LoginResult(None, "disabled")
    changes = dict(last_login_at=now)
    if password_hasher.check_needs_rehash(user.password_hash):
        changes["password_hash"] = hash_password(password)
    with write_transaction():
        AdminUser.update(**changes).where(AdminUser.id == user.id).execute()
        audit(username, "login.ok", tenant=tenant, target=address)
    return LoginResult(AdminUser.get_by_id(user.id))


def disable_idle_logins(now: datetime, idle_days: int) -> list[str]:
    """D4: disable logins not used for ``idle_days`` (never-used logins count from their
    creation). Returns the usernames disabled; a periodic job."""
    cutoff = now - timedelta(days=idle_days)
    last_seen = fn.COALESCE(AdminUser.last_login_at, AdminUser.created_at)
    disabled = []
    with write_transaction():
        for user in AdminUser.select().where(AdminUser.active & (last_seen < cutoff)).order_by(AdminUser.id):
            if idle_since(user) >= cutoff:  # enabled again since
                continue
            AdminUser.update(active=False, disabled_at=now, disabled_reason="idle").where(
                AdminUser.id == user.id).execute()
            end_user_sessions(user.id)
            audit("system", "user.disable", tenant=user.tenant_id, target=user.username, reason="idle",
                  last_login_at=user.last_login_at.isoformat() if user.last_login_at else None)
            disabled.append(user.username)
    return disabled


# --- API tokens (D7) ------------------------------------------------------------------------


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: AdminUser, name: str = "", *, actor: str = "system") -> tuple[str, ApiToken]:
    """Returns (the token, its row). The token itself is never stored: show it once."""
    name = (name or "").strip()[:100]
    secret = secrets.token_urlsafe(32)
    token = TOKEN_PREFIX + secret
    with write_transaction():
        row = ApiToken.create(user=user, name=name, prefix=token[:12], token_hash=_token_digest(token))
        audit(actor, "token.create", tenant=user.tenant_id, target=user.username, token_id=row.id, name=name)
    return token, row


def verify_token(token: str, now: datetime | None = None) -> AdminUser | None:
    """The active user a live token belongs to, or None."""
    if not token or not token.startswith(TOKEN_PREFIX):
        return None
    digest = _token_digest(token)
    for row in ApiToken.select().where((ApiToken.prefix == token[:12]) & ApiToken.revoked_at.is_null()):
        if hmac.compare_digest(row.token_hash, digest):
            user = AdminUser.get_by_id(row.user_id)
            if not user.active:
                return None
            ApiToken.update(last_used_at=now or utcnow()).where(ApiToken.id == row.id).execute()
            return user
    return None


def revoke_token(user: AdminUser, token_id: int, *, actor: str = "system") -> ApiToken:
    """Revoke one of ``user``'s tokens (another user's token id is not found)."""
    row = ApiToken.get_or_none((ApiToken.id == token_id) & (ApiToken.user == user))
    if row is None:
        raise ForeignReference("token", str(token_id), user.username, "unknown token %(token_id)s", token_id=token_id)
    if row.revoked_at is not None:
        raise InvalidInput("token %(token_id)s is already revoked", token_id=token_id)
    with write_transaction():
        ApiToken.update(revoked_at=utcnow()).where(ApiToken.id == row.id).execute()
        audit(actor, "token.revoke", tenant=user.tenant_id, target=user.username, token_id=row.id)
    return ApiToken.get_by_id(row.id)


def list_tokens(user: AdminUser) -> list[ApiToken]:
    return list(ApiToken.select().where(ApiToken.user == user).order_by(ApiToken.created_at.desc()))
