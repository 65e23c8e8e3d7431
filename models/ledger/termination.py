"""Termination of a tenant (RULEBOOK C4) and what happens to its money.

* ``violation``: seats, numbers and the unused balance are forfeited (ledger ``forfeit``), paid
  and promotional alike; no refund.
* ``operator_fault`` (the operator's fault or force majeure): the unused *paid* balance is
  refunded (ledger ``refund``); promotional credit is not cash, so it is written off as a
  ``forfeit`` with a note saying so. Prepaid rent of the current period is not refunded: the rule
  refunds the balance, and rent is a service already bought.

In both cases seats stop, numbers are released and the status becomes ``terminated``. Money held
by live calls is never paid out (A13): those calls are charged when they end, and the ``settle``
pass of ``fsapp jobs run`` pays out what is left once no live call holds money.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.clock import utcnow
from domain.errors import InvalidInput
from models.complaints.audit import audit
from models.db import write_transaction
from models.ledger import posting
from models.ledger.balances import available
from models.ledger.payouts import pay_out
from models.ledger.tables import LedgerEntry
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Tenant
from models.tenancy.tenants import get_tenant, set_tenant

TERMINATION_KINDS = ("violation", "operator_fault")


@dataclass(frozen=True)
class Settlement:
    refunded_fen: int = 0  # paid money returned to the tenant
    forfeited_fen: int = 0  # paid money kept by the operator (violation)
    promo_forfeited_fen: int = 0  # promotional credit written off (either kind)
    still_held_fen: int = 0  # held by live calls; settled when they end

    def summary(self) -> str:
        return (f"refunded {self.refunded_fen} fen, forfeited {self.forfeited_fen} fen paid and "
                f"{self.promo_forfeited_fen} fen promotional"
                + (f", {self.still_held_fen} fen still held by live calls" if self.still_held_fen else ""))


def settle(tenant_id: int, *, at: datetime | None = None, actor: str = "system") -> Settlement:
    """Pay out what a terminated tenant has free of live holds, according to its termination kind.

    Idempotent: keys carry the id of the tenant's last ledger entry, and the amounts are read
    under the tenant lock, so a second run (in any process) finds nothing left to pay out."""
    at = at or utcnow()
    with write_transaction():
        tenant = posting.locked_tenant(tenant_id)
        if tenant.status != "terminated" or tenant.termination_kind not in TERMINATION_KINDS:
            return Settlement()
        money = available(tenant, at)
        last = (LedgerEntry.select(LedgerEntry.id).where(LedgerEntry.tenant == tenant.id)
                .order_by(LedgerEntry.id.desc()).first())
        stem = f"termination:{tenant.id}:{last.id if last else 0}"
        refunded = forfeited = promo_forfeited = 0
        paid_free, promo_free = money.paid_free_fen, money.promo_free_fen
        if tenant.termination_kind == "violation":
            if paid_free + promo_free > 0:
                pay_out(tenant.id, "forfeit", paid_free + promo_free, promo_fen=promo_free, key=f"{stem}:forfeit",
                        note="C4 termination for a violation: unused balance forfeited", actor=actor, at=at)
                forfeited, promo_forfeited = paid_free, promo_free
        else:
            if paid_free > 0:
                pay_out(tenant.id, "refund", paid_free, key=f"{stem}:refund",
                        note="C4 termination through the operator's fault: unused paid balance refunded",
                        actor=actor, at=at)
                refunded = paid_free
            if promo_free > 0:
                pay_out(tenant.id, "forfeit", promo_free, promo_fen=promo_free, key=f"{stem}:promo",
                        note="C4: promotional credit is not refundable as cash", actor=actor, at=at)
                promo_forfeited = promo_free
        result = Settlement(refunded, forfeited, promo_forfeited, money.held_fen)
        if refunded or forfeited or promo_forfeited:
            audit(actor, "tenant.settle", tenant=tenant, target=tenant.code, kind=tenant.termination_kind,
                  refunded_fen=refunded, forfeited_fen=forfeited, promo_forfeited_fen=promo_forfeited,
                  still_held_fen=money.held_fen)
        return result


def terminate(code: str, *, kind: str, reason: str = "", actor: str = "system",
              at: datetime | None = None) -> Settlement:
    """End a tenant's service for ``kind`` and settle its balance, in one transaction.

    A tenant terminated earlier without a kind (``fsapp tenant set --status terminated``) can be
    given one here, which settles its money."""
    if kind not in TERMINATION_KINDS:
        raise InvalidInput("invalid termination kind %(kind)r: expected violation or operator_fault", kind=kind)
    at = at or utcnow()
    tenant = get_tenant(code)
    if tenant.status == "terminated" and tenant.termination_kind:
        raise InvalidInput("tenant %(code)s is already terminated (%(tenant_termination_kind)s)", code=code, tenant_termination_kind=tenant.termination_kind)
    with write_transaction():
        if tenant.status != "terminated":
            set_tenant(code, status="terminated", termination_kind=kind, actor=actor)
        Tenant.update(termination_kind=kind, terminated_at=at).where(Tenant.id == tenant.id).execute()
        seats = Seat.update(active=False, auto_renew=False).where(
            (Seat.tenant == tenant.id) & Seat.active).execute()
        numbers = NumberLease.update(released_at=at, auto_renew=False).where(
            (NumberLease.tenant == tenant.id) & NumberLease.released_at.is_null()).execute()
        settlement = settle(tenant.id, at=at, actor=actor)
        audit(actor, "tenant.terminate", tenant=tenant, target=code, kind=kind, reason=reason,
              seats_stopped=seats, numbers_released=numbers, **{
                  "refunded_fen": settlement.refunded_fen, "forfeited_fen": settlement.forfeited_fen,
                  "promo_forfeited_fen": settlement.promo_forfeited_fen,
                  "still_held_fen": settlement.still_held_fen})
    return settlement


def settle_terminated(*, at: datetime | None = None, actor: str = "jobs") -> list[tuple[str, Settlement]]:
    """The periodic pass: settle every terminated tenant that still has money free of holds."""
    at = at or utcnow()
    done = []
    tenants = (Tenant.select(Tenant.id, Tenant.code)
               .where((Tenant.status == "terminated") & Tenant.termination_kind.in_(TERMINATION_KINDS)
                      & (Tenant.balance_fen > 0))
               .order_by(Tenant.id))
    for tenant in list(tenants):
        settlement = settle(tenant.id, at=at, actor=actor)
        if settlement.refunded_fen or settlement.forfeited_fen or settlement.promo_forfeited_fen:
            done.append((tenant.code, settlement))
    return done
