"""Who may manage which logins in the web admin (docs/admin.md, "Managing logins").

- An operator manages every login but their own (another operator signs for that: no one
  disables, unlocks or grants themselves anything), and is the only one who creates or manages
  operators and auditors.
- A tenant admin manages only their own tenant's tenant admins, never raises privileges (grants
  the PII permission only if they have it themselves) and never acts on their own login.
- An auditor reads the list and changes nothing.
"""
from __future__ import annotations

from models.accounts.tables import AdminUser


def visible_users(actor: AdminUser):
    query = AdminUser.select().order_by(AdminUser.role, AdminUser.username)
    if actor.role == "tenant_admin":
        query = query.where((AdminUser.role == "tenant_admin") & (AdminUser.tenant == actor.tenant_id))
    return query


def may_see(actor: AdminUser, target: AdminUser) -> bool:
    if actor.role == "tenant_admin":
        return target.role == "tenant_admin" and target.tenant_id == actor.tenant_id
    return True


def may_manage(actor: AdminUser, target: AdminUser) -> bool:
    if target.id == actor.id:
        return False
    if actor.role == "operator":
        return True
    return actor.role == "tenant_admin" and may_see(actor, target)


def may_grant_pii(actor: AdminUser) -> bool:
    return actor.role == "operator" or (actor.role == "tenant_admin" and actor.pii)


def creatable_roles(actor: AdminUser) -> tuple[str, ...]:
    if actor.role == "operator":
        return ("operator", "tenant_admin", "auditor")
    return ("tenant_admin",) if actor.role == "tenant_admin" else ()
