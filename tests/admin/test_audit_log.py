"""The audit log page masks phone numbers (actor, target, details) like every other page (D3)."""
from __future__ import annotations

from models.accounts import users
from models.complaints.audit import audit
from models.complaints.tables import AuditLog

FULL = ("+8613800138000", "13800138000", "139 0013 9000")


def numbers_shown(page: str) -> list[str]:
    return [n for n in FULL if n in page]


def write_entries(world):
    # what the product writes: a consent's number as target, a filter typed in an export, free text
    audit("acme_pii", "calls.export", tenant=world.acme, target="calls", filters={"number": "13800138000"})
    audit("op", "dnc.add", tenant=world.acme, target="+8613800138000", reason="客户 139 0013 9000 要求不再来电")
    users.authenticate("13800138000", "a guess", address="10.0.0.9")  # a phone number typed as username
    AuditLog.update(tenant=world.acme).where(AuditLog.action == "login.failed").execute()


def test_a_tenant_admin_without_pii_sees_masked_numbers(world, browser):
    write_entries(world)
    page = browser("acme_admin").get("/audit").get_data(as_text=True)
    assert numbers_shown(page) == []
    assert "138****8000" in page and "139****9000" in page
    assert "10.0.0.9" in page and "calls.export" in page  # addresses and actions stay readable
    assert browser("acme_admin").get("/audit?reveal=1").get_data(as_text=True).count("+8613800138000") == 0
    assert AuditLog.select().where(AuditLog.action == "pii.view").count() == 0


def test_a_pii_user_reveals_full_numbers_and_the_reveal_is_audited(world, browser):
    write_entries(world)
    b = browser("acme_pii")
    assert numbers_shown(b.get("/audit").get_data(as_text=True)) == []
    revealed = b.get("/audit?reveal=1").get_data(as_text=True)
    assert numbers_shown(revealed) == list(FULL)
    entry = AuditLog.get(AuditLog.action == "pii.view")
    assert (entry.actor, entry.tenant_id, entry.target) == ("acme_pii", world.acme.id, "audit")
