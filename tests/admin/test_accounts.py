"""models.accounts and `fsapp user`: slow hashes, throttling, idle disabling, tokens (D4, D7)."""
from __future__ import annotations

import io
import sys
from datetime import timedelta

import pytest
from argon2 import Type, extract_parameters

from models import accounts, admin_sessions, login_throttle, provisioning
from models.audit import AuditLog
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.people import AdminSession, AdminUser, ApiToken

PASSWORD = "correct horse battery"


def test_production_password_hash_is_slow_argon2id():
    # the module's own hasher, not the quick one the other tests use
    import importlib

    fresh = importlib.reload(accounts)
    params = extract_parameters(fresh.hash_password("a long enough password"))
    assert params.type is Type.ID
    assert params.time_cost >= 2 and params.memory_cost >= 19 * 1024


def test_add_user_validates_before_writing(db):
    provisioning.add_tenant("acme", name="A", display_name="A", hotline="4008001000", seats=1, rate=1)
    with pytest.raises(InvalidInput, match="needs --tenant"):
        accounts.add_user("ta", role="tenant_admin", password=PASSWORD)
    with pytest.raises(InvalidInput, match="sees all tenants"):
        accounts.add_user("op", role="operator", tenant_code="acme", password=PASSWORD)
    with pytest.raises(InvalidInput, match="at least 10"):
        accounts.add_user("op", role="operator", password="short")
    with pytest.raises(InvalidInput, match="invalid role"):
        accounts.add_user("op", role="root", password=PASSWORD)
    with pytest.raises(InvalidInput, match="unknown tenant"):
        accounts.add_user("ta", role="tenant_admin", tenant_code="nope", password=PASSWORD)
    assert AdminUser.select().count() == 0
    user = accounts.add_user("ta", role="tenant_admin", tenant_code="acme", password=PASSWORD, pii=True)
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    with pytest.raises(InvalidInput, match="already exists"):
        accounts.add_user("ta", role="auditor", password=PASSWORD)


def test_authenticate_success_failure_and_disabled(db):
    accounts.add_user("op", role="operator", password=PASSWORD)
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1").ok
    assert AdminUser.get(AdminUser.username == "op").last_login_at is not None
    assert accounts.authenticate("op", "wrong password", address="10.0.0.1").error == "invalid"
    assert accounts.authenticate("nobody", PASSWORD, address="10.0.0.1").error == "invalid"
    accounts.disable_user("op")
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1").error == "disabled"


def test_five_failures_lock_the_username_from_that_address_only(db):
    accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR):
        assert accounts.authenticate("op", "bad", address="10.0.0.1", now=now).error == "invalid"
    # whoever guessed from 10.0.0.1 is locked out of "op" there, even with the right password...
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1", now=now + timedelta(minutes=14)).error == "locked"
    # ...but the real user at another address still signs in
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.2", now=now + timedelta(minutes=14)).ok
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1", now=now + timedelta(minutes=16)).ok
    refused = AuditLog.get((AuditLog.action == "login.refused") & (AuditLog.target == "10.0.0.1"))
    assert refused.detail == {"why": "user_locked"} and refused.actor == "op"


def test_an_unknown_username_locks_exactly_like_a_real_one(db):
    accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for username in ("op", "ghost"):
        answers = [accounts.authenticate(username, "bad", address="10.0.0.1", now=now).error
                   for _ in range(login_throttle.MAX_FAILURES_PER_PAIR + 1)]
        assert answers == ["invalid"] * login_throttle.MAX_FAILURES_PER_PAIR + ["locked"], username


def test_a_successful_login_or_a_reset_starts_the_count_again(db):
    accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR - 1):
        accounts.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1", now=now).ok
    for _ in range(login_throttle.MAX_FAILURES_PER_PAIR - 1):
        accounts.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert login_throttle.pair_failures("op", "10.0.0.1", now) == login_throttle.MAX_FAILURES_PER_PAIR - 1
    accounts.authenticate("op", "bad", address="10.0.0.1", now=now)
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1", now=now).error == "locked"
    accounts.reset_password("op", PASSWORD)
    assert accounts.authenticate("op", PASSWORD, address="10.0.0.1", now=now).ok


def test_failures_from_one_address_lock_that_address(db):
    accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for i in range(login_throttle.MAX_ATTEMPTS_PER_ADDRESS):
        accounts.authenticate(f"guess{i}", "bad", address="192.0.2.7", now=now)
    assert accounts.authenticate("op", PASSWORD, address="192.0.2.7", now=now).error == "locked"
    assert accounts.authenticate("op", PASSWORD, address="192.0.2.8", now=now).ok
    assert AuditLog.select().where((AuditLog.action == "login.failed") & (AuditLog.target == "192.0.2.7")).count() == 20
    assert accounts.authenticate("op", PASSWORD, address="192.0.2.7", now=now + timedelta(minutes=16)).ok


def test_refused_tries_at_a_locked_username_count_for_the_address(db):
    """Someone who keeps trying a locked username from one address ends up refused there
    altogether (and no longer costs a password hash per try)."""
    accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    for _ in range(login_throttle.MAX_ATTEMPTS_PER_ADDRESS):
        accounts.authenticate("op", "bad", address="192.0.2.7", now=now)
    assert login_throttle.address_blocked("192.0.2.7", now)
    assert accounts.authenticate("someone", PASSWORD, address="192.0.2.7", now=now).error == "locked"


def test_reset_password_reenables_clears_lock_and_ends_sessions(db):
    user = accounts.add_user("op", role="operator", password=PASSWORD)
    session_id = admin_sessions.open_session(user, address="10.0.0.1", now=utcnow())
    for _ in range(5):
        accounts.authenticate("op", "bad", address="10.0.0.1")
    accounts.disable_user("op")
    generated = accounts.reset_password("op")
    assert len(generated) >= 16
    user = AdminUser.get_by_id(user.id)
    assert user.active and admin_sessions.session_user(session_id, utcnow()) is None
    assert accounts.authenticate("op", generated, address="10.0.0.1").ok
    with pytest.raises(InvalidInput, match="unknown user"):
        accounts.reset_password("ghost")


def test_sessions_end_at_logout_expiry_and_disabling(db):
    user = accounts.add_user("op", role="operator", password=PASSWORD)
    now = utcnow()
    first = admin_sessions.open_session(user, address="10.0.0.1", now=now)
    second = admin_sessions.open_session(user, address="10.0.0.2", now=now)
    assert admin_sessions.session_user(first, now).id == user.id
    assert AdminSession.get(AdminSession.user == user.id).id_digest != first  # only a digest is stored
    assert admin_sessions.close_session(first)
    assert admin_sessions.session_user(first, now) is None and admin_sessions.session_user(second, now) is not None
    lifetime = admin_sessions.SESSION_LIFETIME
    assert admin_sessions.session_user(second, now + lifetime - timedelta(seconds=1)) is not None
    assert admin_sessions.session_user(second, now + lifetime) is None
    third = admin_sessions.open_session(user, address="10.0.0.3", now=now + lifetime)  # sweeps expired rows
    assert AdminSession.select().count() == 1
    accounts.disable_user("op")
    assert admin_sessions.session_user(third, now + lifetime) is None and AdminSession.select().count() == 0
    assert admin_sessions.session_user("", now) is None and admin_sessions.session_user(None, now) is None


def test_disable_idle_logins_after_365_days(db, settings):
    now = utcnow()
    recent = accounts.add_user("recent", role="auditor", password=PASSWORD)
    idle = accounts.add_user("idle", role="auditor", password=PASSWORD)
    never = accounts.add_user("never", role="auditor", password=PASSWORD)
    AdminUser.update(last_login_at=now - timedelta(days=364)).where(AdminUser.id == recent.id).execute()
    AdminUser.update(last_login_at=now - timedelta(days=366)).where(AdminUser.id == idle.id).execute()
    AdminUser.update(created_at=now - timedelta(days=400)).where(AdminUser.id == never.id).execute()
    assert accounts.disable_idle_logins(now, settings) == ["idle", "never"]
    assert AdminUser.get_by_id(recent.id).active
    assert AdminUser.get_by_id(idle.id).disabled_reason == "idle"
    assert accounts.disable_idle_logins(now, settings) == []
    shorter = settings.replace(login_idle_disable_days=30)
    assert accounts.disable_idle_logins(now, shorter) == ["recent"]


def test_api_tokens_are_shown_once_stored_hashed_and_revocable(db):
    user = accounts.add_user("op", role="operator", password=PASSWORD)
    other = accounts.add_user("op2", role="operator", password=PASSWORD)
    token, row = accounts.create_token(user, "reports")
    stored = ApiToken.get_by_id(row.id)
    assert token not in (stored.token_hash, stored.prefix) and len(token) > 40
    assert accounts.verify_token(token).id == user.id
    assert accounts.verify_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    with pytest.raises(InvalidInput, match="unknown token"):
        accounts.revoke_token(other, row.id)  # not theirs
    accounts.revoke_token(user, row.id)
    assert accounts.verify_token(token) is None


def test_cli_user_add_disable_reset(cli, monkeypatch):
    assert cli("tenant", "add", "acme", "--name", "A", "--display-name", "A", "--hotline", "4008001000",
               "--seats", "1", "--rate", "1").code == 0
    result = cli("user", "add", "alice", "--role", "tenant_admin", "--tenant", "acme", "--pii")
    assert result.code == 0, result
    generated = result.out.split("password (shown once): ")[1].strip()
    assert accounts.authenticate("alice", generated, address="cli").ok

    monkeypatch.setattr(sys, "stdin", io.StringIO("a password from stdin\n"))
    assert cli("user", "add", "bob", "--role", "auditor", "--password-stdin").code == 0
    assert accounts.authenticate("bob", "a password from stdin", address="cli").ok

    bad = cli("user", "add", "carol", "--role", "tenant_admin")
    assert bad.code == 2 and "needs --tenant" in bad.err
    assert cli("user", "add", "carol", "--role", "root").code == 2
    assert cli("user", "disable", "bob").code == 0
    assert not AdminUser.get(AdminUser.username == "bob").active
    assert cli("user", "disable", "ghost").code == 2

    monkeypatch.setattr(sys, "stdin", io.StringIO("another good password\n"))
    assert cli("user", "reset-password", "bob", "--password-stdin").code == 0
    assert accounts.authenticate("bob", "another good password", address="cli").ok
    reset = cli("user", "reset-password", "alice")
    assert "password (shown once): " in reset.out
    assert cli("user", "disable-idle").out.startswith("disabled 0 idle login(s)")


def test_idle_logins_job_is_registered_with_the_periodic_jobs(db, settings):
    from fs_app.jobs import JOBS

    job = dict(JOBS)["idle_logins"]
    now = utcnow()
    idle = accounts.add_user("idle", role="auditor", password=PASSWORD)
    AdminUser.update(created_at=now - timedelta(days=366)).where(AdminUser.id == idle.id).execute()
    assert job(settings, now) == "disabled 1 idle login(s): idle"
    assert job(settings, now) == "disabled 0 idle login(s)"
