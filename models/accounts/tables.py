"""Admin users, their sessions and API tokens (RULEBOOK D4, D6, D7)."""
from __future__ import annotations

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField

from domain.clock import utcnow
from models.base import BaseModel
from models.tenancy.tables import Tenant

USER_ROLES = ("operator", "tenant_admin", "auditor")


class AdminUser(BaseModel):
    username = CharField(max_length=100, unique=True)
    password_hash = CharField(max_length=300)
    role = CharField(max_length=16)
    tenant = ForeignKeyField(Tenant, null=True, backref="users", on_delete="CASCADE")
    pii = BooleanField(default=False)  # may see full numbers (D3)
    active = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)
    disabled_at = DateTimeField(null=True)
    disabled_reason = CharField(max_length=100, default="")
    # When the login was last enabled again (reset password, enable): the idle rule (D4) counts
    # from the latest of this, the last sign-in and the creation, so a login enabled after an
    # idle disable is not disabled again by the next run before its user can sign in.
    enabled_at = DateTimeField(null=True)
    # Not read since schema 4 (the lockout is per username and address, counted in the audit
    # log: models.accounts.login_throttle); kept while a rolling upgrade may run older processes.
    failed_logins = IntegerField(default=0)
    locked_until = DateTimeField(null=True)


class AdminSession(BaseModel):
    """A signed-in browser, known to the server: the session cookie carries a random id whose
    SHA-256 digest is stored here. Logout deletes the row, so a copy of the cookie stops working;
    a password reset or a disabled login deletes all of the user's rows."""

    user = ForeignKeyField(AdminUser, backref="sessions", on_delete="CASCADE")
    id_digest = CharField(max_length=64, unique=True)
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(index=True)
    address = CharField(max_length=64, default="")  # the client that signed in


class ApiToken(BaseModel):
    """Shown once, stored hashed, revocable (D7)."""

    user = ForeignKeyField(AdminUser, backref="tokens", on_delete="CASCADE")
    name = CharField(max_length=100, default="")
    prefix = CharField(max_length=16, index=True)
    token_hash = CharField(max_length=300)
    created_at = DateTimeField(default=utcnow)
    last_used_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)


