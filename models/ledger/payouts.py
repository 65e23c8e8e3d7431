"""Money moved out of an account by the operator: refunds, forfeits and negative adjustments.

RULEBOOK A13 (and ASTPP issue 145, mid-call fraud): money taken out during a call must never leave
a live call unpaid. So every payout is checked, under the tenant's row lock, against the available
balance = balance - live holds, and a cash refund only against the paid part of it (promotional
credit is not cash, C5). Everything that posts money out of these kinds goes through ``pay_out``;
``posting.post`` itself stays a plain append.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.clock import utcnow
from domain.errors import InvalidInput
from models.db import write_transaction
from models.ledger import posting
from models.ledger.balances import InsufficientBalance, available
from models.ledger.tables import LedgerEntry

PAYOUT_KINDS = ("refund", "forfeit", "adjust")


@dataclass(frozen=True)
class Payout:
    entry: LedgerEntry | None
    created: bool
    amount_fen: int  # paid out (positive)
    promo_fen: int  # of which promotional credit (positive)


def pay_out(tenant_id: int, kind: str, amount_fen: int, *, promo_fen: int | None = None,
            key: str | None = None, up_to_available: bool = False, note: str = "", actor: str = "system",
            at: datetime | None = None) -> Payout:
    """Take ``amount_fen`` (> 0) out of a tenant's account as a ``kind`` entry.

    ``promo_fen``: the promotional part; by default promotional credit first for forfeits and
    adjustments, none for refunds (only paid money is refunded). With ``up_to_available`` the
    amount is cut to what is free of holds instead of being refused (termination settles what it
    can now and the rest when the live calls have ended).
    """
    if kind not in PAYOUT_KINDS:
        raise InvalidInput("unknown payout kind %(kind)r: expected one of %(choices)s", kind=kind,
                           choices=", ".join(PAYOUT_KINDS))
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("a payout is a positive whole number of fen, got %(amount_fen)r", amount_fen=amount_fen)
    if promo_fen is not None and (not isinstance(promo_fen, int) or not 0 <= promo_fen <= amount_fen):
        raise InvalidInput("the promotional part of a payout is between 0 and its amount")
    if kind == "refund" and promo_fen:
        raise InvalidInput("promotional credit is not refundable as cash")
    at = at or utcnow()
    with write_transaction():
        tenant = posting.locked_tenant(tenant_id)
        existing = posting.posted(key)
        if existing is not None:
            return Payout(existing, False, -existing.amount_fen, -existing.promo_fen)
        money = available(tenant, at)
        if kind == "refund":
            limit_total, limit_promo = money.paid_free_fen, 0
        else:
            limit_total, limit_promo = money.available_fen, money.promo_free_fen
        if promo_fen is None:
            promo_fen = 0 if kind == "refund" else min(amount_fen, limit_promo)
        paid_fen = amount_fen - promo_fen
        limit_paid = limit_total - limit_promo
        if up_to_available:
            promo_fen = max(min(promo_fen, limit_promo), 0)
            paid_fen = max(min(paid_fen, limit_paid), 0)
            amount_fen = promo_fen + paid_fen
            if amount_fen == 0:
                return Payout(None, False, 0, 0)
        elif promo_fen > limit_promo or paid_fen > limit_paid:
            what = "paid money" if kind == "refund" else "money"
            raise InsufficientBalance(
                f"tenant {tenant.code}: a {kind} of {amount_fen} fen exceeds the {what} free of live "
                f"holds ({limit_total} fen: balance {money.balance_fen}, promotional "
                f"{money.promo_fen}, held by live calls {money.held_fen})")
        entry, created = posting.post(tenant.id, kind, -amount_fen, promo_fen=-promo_fen, key=key, note=note,
                                     actor=actor, at=at)
        return Payout(entry, created, amount_fen, promo_fen)
