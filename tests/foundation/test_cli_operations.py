"""The CLI commands that came with the web admin's operations pages (issue 17): the same models
functions behind both, each with its success and a refusal (exit 2, one line, nothing written)."""
from __future__ import annotations

import pytest

from models import Campaign, NumberLease, Seat, Tenant
from models.accounts.tables import AdminUser

from .test_cli import assert_refused


@pytest.fixture
def acme(cli):
    assert cli("tenant", "add", "acme", "--name", "Acme", "--display-name", "爱客米", "--hotline", "4008123456",
               "--seats", "2", "--rate", "12").code == 0
    assert cli("tenant", "set", "acme", "--status", "active").code == 0
    assert cli("topup", "acme", "100000").code == 0
    assert cli("number", "lease", "acme", "02012345678", "--days", "30").code == 0
    return cli


def test_tenant_set_display_name_hotline_and_seat_rent(acme):
    result = acme("tenant", "set", "acme", "--display-name", "新名字", "--hotline", "4008000000", "--seat-rent", "3000")
    assert result.code == 0, result
    tenant = Tenant.get(Tenant.code == "acme")
    assert (tenant.display_name, tenant.hotline, tenant.seat_rent_fen) == ("新名字", "+864008000000", 3000)
    assert_refused(acme, "tenant", "set", "acme", "--hotline", "not a number", fragment="")


def test_seat_set_pins_and_clears(acme, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("您好，这里是爱客米。", encoding="utf-8")
    assert acme("campaign", "add", "acme", "spring", "--script-file", str(script)).code == 0
    assert acme("seat", "add", "acme", "1001").code == 0
    result = acme("seat", "set", "acme", "1001", "--pin-number", "02012345678", "--campaign", "spring")
    assert result.code == 0 and "pinned number +862012345678, default campaign spring" in result.out
    assert_refused(acme, "seat", "set", "acme", "1001", "--pin-number", "02187654321", fragment="not leased")
    assert acme("seat", "set", "acme", "1001", "--pin-number", "").code == 0
    assert Seat.get(Seat.sip_user == "1001").pinned_number_id is None


def test_number_set_and_release(acme):
    assert acme("number", "set", "acme", "02012345678", "--max-calls", "3", "--inbound-mode", "sequential").code == 0
    lease = NumberLease.get(NumberLease.number == "+862012345678")
    assert (lease.max_calls, lease.inbound_mode) == (3, "sequential")
    assert_refused(acme, "number", "set", "acme", "02012345678", fragment="nothing to change")
    assert acme("number", "release", "acme", "02012345678").code == 0
    assert NumberLease.get_by_id(lease.id).released_at is not None
    assert_refused(acme, "number", "release", "acme", "02012345678", fragment="already released")
    assert_refused(acme, "number", "release", "acme", "02099999999", fragment="not leased")


def test_campaign_record(acme, tmp_path):
    script = tmp_path / "s.txt"
    script.write_text("您好，这里是爱客米。", encoding="utf-8")
    assert acme("campaign", "add", "acme", "spring", "--script-file", str(script)).code == 0
    assert acme("campaign", "record", "acme", "spring", "no").code == 0
    assert not Campaign.get(Campaign.code == "spring").record
    assert acme("campaign", "record", "acme", "unknown", "yes").code == 2


def test_user_enable_unlock_and_pii(acme):
    assert acme("user", "add", "ann", "--role", "auditor").code == 0
    assert_refused(acme, "user", "enable", "ann", fragment="already enabled")
    assert acme("user", "disable", "ann").code == 0
    assert acme("user", "enable", "ann").code == 0
    user = AdminUser.get(AdminUser.username == "ann")
    assert user.active and user.enabled_at is not None
    assert acme("user", "unlock", "ann").code == 0
    assert acme("user", "pii", "ann", "yes").code == 0 and AdminUser.get_by_id(user.id).pii
    assert_refused(acme, "user", "pii", "ann", "yes", fragment="already has")
