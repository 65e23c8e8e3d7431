"""models.accounts and `fsapp user`: slow hashes, throttling, idle disabling, tokens (D4, D7)."""
from __future__ import annotations

import io
import sys
from datetime import timedelta

import pytest
from argon2 import Type, extract_parameters

from models.accounts import login_throttle
from models.accounts import sessions
from models.accounts import users
from models.tenancy import tenants
from models.complaints.audit import AuditLog
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.accounts.tables import AdminSession, AdminUser, ApiToken

PASSWORD = "correct horse battery"


def test_production_password_hash_is_slow_argon2id():
    # the module's own hasher, not the quick one the other tests use
    import importlib

    fresh = importlib.reload(users)
    params = extract_parameters(fresh.hash_password("a long enough password"))
    assert params.type is Type.ID
    assert params.time_cost >= 2 and params.memory_cost >= 19 * 1024


def test_add_user_validates_before_writing(db):
    tenants.add_tenant("acme", name="A", display_name="A", hotline="4008001000", seats=1, rate=1)
    with pytest.raises(InvalidInput, match="needs --tenant"):
        users.add_user("ta", role="tenant_admin", password=PASSWORD)
    with pytest.raises(InvalidInput, match="sees all tenants"):
        users.add_user("op", role="operator", tenant_code="acme", password=PASSWORD)
    with pytest.raises(InvalidInput, match="at least 10"):
        users.add_user("op", role="operator", password="short")
    with pytest.raises(InvalidInput, match="invalid role"):
        users.add_user("op", role="root", password=PASSWORD)
    with pytest.raises(InvalidInput, match="unknown tenant"):
        users.add_user("ta", role="tenant_admin", tenant_code="nope", password=PASSWORD)
    assert AdminUser.select().count() == 0
    user = users.add_user("ta", role="tenant_admin", tenant_code="acme", password=PASSWORD, pii=True)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with pytest.raises(InvalidInput, match="already exists"):
        users.add_user("ta", role="auditor", password=PASSWORD)


def test_authenticate_success_failure_and_disabled(db):
    users.add_user("op", role="operator", password=PASSWORD)
    assert users.authenticate("op", PASSWORD, address="10.0.0.1").ok
    assert AdminUser.get(AdminUser.username == "op").last_login_at is not None
    assert users.authenticate("op", "wrong password", address="10.0.0.1").error == "invalid"
    assert users.authenticate("nobody", PASSWORD, address="10.0.0.1").error == "invalid"
    users.disable_user("op")
    assert users.authenticate("op", PASSWORD, address="10.0.0.1").error == "disabled"


def test_five_failures_lock_the_username_from_that_address_only(db):
    users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR):
        assert users.authenticate("op", "bad", address="10.0.0.1", now=now).error == "invalid"
    # whoever guessed from 10.0.0.1 is locked out of "op" there, even with the right password...
    assert users.authenticate("op", PASSWORD, address="10.0.0.1", now=now + timedelta(minutes=14)).error == "locked"
    # ...but the real user at another address still signs in
    assert users.authenticate("op", PASSWORD, address="10.0.0.2", now=now + timedelta(minutes=14)).ok
    assert users.authenticate("op", PASSWORD, address="10.0.0.1", now=now + timedelta(minutes=16)).ok
    refused = AuditLog.get((AuditLog.action == "login.refused") & (AuditLog.target == "10.0.0.1"))
    assert refused.detail == {"why": "user_locked"} and refused.actor == "op"


def test_an_unknown_username_locks_exactly_like_a_real_one(db):
    users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for username in ("op", "ghost"):
        answers = [users.authenticate(username, "bad", address="10.0.0.1", now=now).error
                   for _ in range(login_throttle.MAX_FAILURES_PER_PAIR + 1)]
        assert answers == ["invalid"] * login_throttle.MAX_FAILURES_PER_PAIR + ["locked"], username


def test_a_successful_login_or_a_reset_starts_the_count_again(db):
    users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR - 1):
        users.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert users.authenticate("op", PASSWORD, address="10.0.0.1", now=now).ok
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR - 1):
        users.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert login_throttle.pair_failures("op", "10.0.0.1", now) == login_throttle.MAX_FAILURES_PER_PAIR - 1
    users.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert users.authenticate("op", PASSWORD, address="10.0.0.1", now=now).error == "locked"
    users.reset_password("op", PASSWORD)
    assert users.authenticate("op", PASSWORD, address="10.0.0.1", now=now).ok


def test_failures_from_one_address_lock_that_address(db):
    users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for i in range(login_throttle.MAX_ATTEMPTS_PER_ADDRESS):
        users.authenticate(f"guess{i}", "bad", address="192.0.2.7", now=now)
    assert users.authenticate("op", PASSWORD, address="192.0.2.7", now=now).error == "locked"
    assert users.authenticate("op", PASSWORD, address="192.0.2.8", now=now).ok
    assert AuditLog.select().where((AuditLog.action == "login.failed") & (AuditLog.target == "192.0.2.7")).count() == 20
    assert users.authenticate("op", PASSWORD, address="192.0.2.7", now=now + timedelta(minutes=16)).ok


def test_refused_tries_at_a_locked_username_count_for_the_address(db):
    """Someone who keeps trying a locked username from one address ends up refused there
    altogether (and no longer costs a password hash per try)."""
    users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_ATTEMPTS_PER_ADDRESS):
        users.authenticate("op", "bad", address="192.0.2.7", now=now)
    assert login_throttle.address_blocked("192.0.2.7", now)
    assert users.authenticate("someone", PASSWORD, address="192.0.2.7", now=now).error == "locked"


def test_reset_password_reenables_clears_lock_and_ends_sessions(db):
    user = users.add_user("op", role="operator", password=PASSWORD)
    session_id = sessions.open_session(user, address="10.0.0.1", now=utcnow())
    for _ in range(5):
        users.authenticate("op", "bad", address="10.0.0.1")
    users.disable_user("op")
    generated = users.reset_password("op")
    assert len(generated) >= 16
    user = AdminUser.get_by_id(user.id)
    assert user.active and sessions.session_user(session_id, utcnow()) is None
    assert users.authenticate("op", generated, address="10.0.0.1").ok
    with pytest.raises(InvalidInput, match="unknown user"):
        users.reset_password("ghost")


def test_sessions_end_at_logout_expiry_and_disabling(db):
    user = users.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    first = sessions.open_session(user, address="10.0.0.1", now=now)
    second = sessions.open_session(user, address="10.0.0.2", now=now)
    assert sessions.session_user(first, now).id == user.id
    assert AdminSession.get(AdminSession.user == user.id).id_digest != first  # only a digest is stored
    assert sessions.close_session(first)
    assert sessions.session_user(first, now) is None and sessions.session_user(second, now) is not None
    lifetime = sessions.SESSION_LIFETIME
    assert sessions.session_user(second, now + lifetime - timedelta(seconds=1)) is not None
    assert sessions.session_user(second, now + lifetime) is None
    third = sessions.open_session(user, address="10.0.0.3", now=now + lifetime)  # sweeps expired rows
    assert AdminSession.select().count() == 1
    users.disable_user("op")
    assert sessions.session_user(third, now + lifetime) is None and AdminSession.select().count() == 0
    assert sessions.session_user("", now) is None and sessions.session_user(None, now) is None


def test_disable_idle_logins_after_365_days(db, settings):
    now = utcnow()
    recent = users.add_user("recent", role="auditor", password=PASSWORD)
    idle = users.add_user("idle", role="auditor", password=PASSWORD)
    never = users.add_user("never", role="auditor", password=PASSWORD)
    AdminUser.update(last_login_at=now - timedelta(days=364)).where(AdminUser.id == recent.id).execute()
    AdminUser.update(last_login_at=now - timedelta(days=366)).where(AdminUser.id == idle.id).execute()
    AdminUser.update(created_at=now - timedelta(days=400)).where(AdminUser.id == never.id).execute()
    assert users.disable_idle_logins(now, settings.login_idle_disable_days) == ["idle", "never"]
    assert AdminUser.get_by_id(recent.id).active
    assert AdminUser.get_by_id(idle.id).disabled_reason == "idle"
    assert users.disable_idle_logins(now, settings.login_idle_disable_days) == []
    shorter = settings.replace(login_idle_disable_days=30)
    assert users.disable_idle_logins(now, shorter.login_idle_disable_days) == ["recent"]


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(db):
    user = users.add_user("op", role="operator", password=PASSWORD)
    other = users.add_user("op2", role="operator", password=PASSWORD)
    token, row = users.create_token(user, "reports")
    stored = ApiToken.get_by_id(row.id)
    assert token not in (stored.token_hash, stored.prefix) and len(token) > 40
    assert users.verify_token(token).id == user.id
    assert users.verify_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with pytest.raises(InvalidInput, match="unknown token"):
        users.revoke_token(other, row.id)  # not theirs
    users.revoke_token(user, row.id)
    assert users.verify_token(token) is None


def test_cli_user_add_disable_reset(cli, monkeypatch):
    assert cli("tenant", "add", "acme", "--name", "A", "--display-name", "A", "--hotline", "4008001000",
               "--seats", "1", "--rate", "1").code == 0
    result = cli("user", "add", "alice", "--role", "tenant_admin", "--tenant", "acme", "--pii")
    assert result.code == 0, result
    generated = result.out.split("password (shown once): ")[1].strip()
    assert users.authenticate("alice", generated, address="cli").ok

    monkeypatch.setattr(sys, "stdin", io.StringIO("a password from stdin\n"))
    assert cli("user", "add", "bob", "--role", "auditor", "--password-stdin").code == 0
    assert users.authenticate("bob", "a password from stdin", address="cli").ok

    bad = cli("user", "add", "carol", "--role", "tenant_admin")
    assert bad.code == 2 and "needs --tenant" in bad.err
    assert cli("user", "add", "carol", "--role", "root").code == 2
    assert cli("user", "disable", "bob").code == 0
    assert not AdminUser.get(AdminUser.username == "bob").active
    assert cli("user", "disable", "ghost").code == 2

    monkeypatch.setattr(sys, "stdin", io.StringIO("another good password\n"))
    assert cli("user", "reset-password", "bob", "--password-stdin").code == 0
    assert users.authenticate("bob", "another good password", address="cli").ok
    reset = cli("user", "reset-password", "alice")
    assert "password (shown once): " in reset.out
    assert cli("user", "disable-idle").out.startswith("disabled 0 idle login(s)")


def test_idle_logins_job_is_registered_with_the_periodic_jobs(db, settings):
    from fs_app.jobs import JOBS

    job = dict(JOBS)["idle_logins"]
    now = utcnow()
    idle = users.add_user("idle", role="auditor", password=PASSWORD)
    AdminUser.update(created_at=now - timedelta(days=366)).where(AdminUser.id == idle.id).execute()
    assert job(settings, now) == "disabled 1 idle login(s): idle"
    assert job(settings, now) == "disabled 0 idle login(s)"
