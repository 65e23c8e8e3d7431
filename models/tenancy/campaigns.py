"""Campaigns and their call scripts: add, change (screened again), review, recording (A11, A12).

Only an operator approves a script; callers check the role before calling ``review_campaign``.
"""
from __future__ import annotations

from domain.clock import utcnow
from domain.errors import ForeignReference, InvalidInput
from domain.inputs import check_code, check_text
from models.complaints.audit import audit
from models.db import write_transaction
from models.tenancy.screening import screen_script
from models.tenancy.tables import Campaign, Tenant
from models.tenancy.tenants import get_tenant


def get_campaign(tenant: Tenant, code: str) -> Campaign:
    campaign = Campaign.get_or_none((Campaign.tenant == tenant) & (Campaign.code == code))
    if campaign is None:
        raise ForeignReference("campaign", code, tenant.code, "unknown campaign %(code)r of tenant %(tenant_code)s", code=code, tenant_code=tenant.code)
    return campaign


def add_campaign(tenant_code: str, code: str, *, script: str, record: bool = True,
                 keyword_categories=None, auto_approve_clean: bool = False, name: str = "",
                 actor: str = "system") -> Campaign:
    tenant = get_tenant(tenant_code)
    code = check_code(code, "campaign")
    script = check_text(script, "script", 20000)
    hits = screen_script(script, keyword_categories or {})
    status = "approved" if (auto_approve_clean and not hits) else "review"
    with write_transaction():
        if Campaign.select().where((Campaign.tenant == tenant) & (Campaign.code == code)).exists():
            raise InvalidInput("campaign %(code)r already exists for tenant %(tenant_code)s", code=code, tenant_code=tenant.code)
        campaign = Campaign.create(tenant=tenant, code=code, name=name or code, script=script,
                                   status=status, screening_hits=hits, record=bool(record))
        audit(actor, "campaign.add", tenant=tenant, target=code, status=status, hits=hits)
    return campaign


def update_campaign_script(tenant_code: str, code: str, *, script: str, keyword_categories=None,
                           auto_approve_clean: bool = False, actor: str = "system") -> Campaign:
    """A changed script is screened again and goes back to review (A11)."""
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    script = check_text(script, "script", 20000)
    hits = screen_script(script, keyword_categories or {})
    status = "approved" if (auto_approve_clean and not hits) else "review"
    with write_transaction():
        Campaign.update(script=script, screening_hits=hits, status=status, updated_at=utcnow(),
                        reviewed_at=None, reviewed_by="", review_note="").where(
            Campaign.id == campaign.id).execute()
        audit(actor, "campaign.update", tenant=tenant, target=code, status=status, hits=hits)
    return Campaign.get_by_id(campaign.id)


def review_campaign(tenant_code: str, code: str, *, approve: bool, note: str = "",
                    actor: str = "system") -> Campaign:
    """Only an operator approves (A11): callers must check the role before calling this."""
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    target = "approved" if approve else "rejected"
    allowed_from = {"review", "rejected", "draft"} if approve else {"review", "approved", "draft"}
    if campaign.status not in allowed_from:
        raise InvalidInput("campaign %(code)s is %(campaign_status)s; cannot mark it %(target)s", code=code, campaign_status=campaign.status, target=target)
    with write_transaction():
        Campaign.update(status=target, review_note=note or "", reviewed_by=actor, reviewed_at=utcnow(),
                        updated_at=utcnow()).where(Campaign.id == campaign.id).execute()
        audit(actor, f"campaign.{'approve' if approve else 'reject'}", tenant=tenant, target=code, note=note)
    return Campaign.get_by_id(campaign.id)


def set_campaign_recording(tenant_code: str, code: str, record: bool, *, actor: str = "system") -> Campaign:
    tenant = get_tenant(tenant_code)
    campaign = get_campaign(tenant, code)
    with write_transaction():
        Campaign.update(record=bool(record), updated_at=utcnow()).where(Campaign.id == campaign.id).execute()
        audit(actor, "campaign.record", tenant=tenant, target=code, record=bool(record))
    return Campaign.get_by_id(campaign.id)
