"""The audit log (D3, D6): who did what to which tenant's data."""
from __future__ import annotations

from models.complaints.tables import AuditLog


def audit(actor: str, action: str, *, tenant=None, target: str = "", **detail) -> AuditLog:
    return AuditLog.create(actor=actor or "system", action=action, tenant=tenant, target=target, detail=detail)
