"""Top-ups: paid or promotional money into a tenant's ledger (C2, C5), audited."""
from __future__ import annotations

from domain import bounds
from domain.inputs import check_fen
from models.complaints.audit import audit
from models.db import write_transaction
from models.ledger import posting
from models.tenancy.tenants import get_tenant


def topup(tenant_code: str, amount_fen: int, *, promo: bool = False, note: str = "", actor: str = "system"):
    tenant = get_tenant(tenant_code)
    check_fen(amount_fen, "amount", bounds.AMOUNT_FEN)
    with write_transaction():
        entry, _ = posting.post(tenant.id, "promo" if promo else "topup", amount_fen,
                               promo_fen=amount_fen if promo else 0, note=note, actor=actor)
        audit(actor, "ledger.topup", tenant=tenant, target=tenant.code, amount_fen=amount_fen, promo=promo)
    return entry
