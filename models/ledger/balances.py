"""A tenant's available money and the guarded debit (RULEBOOK A13, C2, C5).

Available = balance minus the money held by live calls (``held_fen``, the one definition).
Promotional credit is spent before paid money: each debit carries its promotional part in
``promo_fen`` (docs/money.md).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from domain.clock import utcnow
from domain.errors import InvalidInput
from models.calls.tables import Hold
from models.db import write_transaction
from models.ledger import posting
from models.ledger.tables import LedgerEntry
from models.tenancy.tables import Tenant


class InsufficientBalance(InvalidInput):
    """The available balance (balance minus live holds) cannot pay for this."""


def held_fen(tenant_id: int, now: datetime, *, exclude_hold_id: int | None = None) -> int:
    """Money held by live calls (A13): the one definition, the amounts of the tenant's holds that
    count at ``now`` (``Hold.live_at``). Admission's ``facts_holds`` statement sums the same rows
    with its other counts."""
    query = Hold.select(fn.COALESCE(fn.SUM(Hold.amount_fen), 0)).where((Hold.tenant == tenant_id) & Hold.live_at(now))
    if exclude_hold_id is not None:
        query = query.where(Hold.id != exclude_hold_id)
    return int(query.scalar() or 0)


@dataclass(frozen=True)
class Available:
    """A tenant's money at one instant. Holds are assumed to be paid with promotional credit
    first, because that is the order in which the calls they guard will be charged."""

    balance_fen: int
    promo_fen: int
    held_fen: int

    @property
    def available_fen(self) -> int:
        return self.balance_fen - self.held_fen

    @property
    def promo_free_fen(self) -> int:
        """Promotional credit not spoken for by live holds."""
        return max(min(self.promo_fen - self.held_fen, self.available_fen), 0)

    @property
    def paid_free_fen(self) -> int:
        """Paid money not spoken for by live holds: what could be refunded as cash."""
        return self.available_fen - self.promo_free_fen


def available(tenant: Tenant, at: datetime | None = None) -> Available:
    return Available(tenant.balance_fen, tenant.promo_balance_fen, held_fen(tenant.id, at or utcnow()))


def promo_part_of_debit(tenant: Tenant, debit_fen: int) -> int:
    """The promotional part (>= 0) of a debit of ``debit_fen`` fen: promotional credit first."""
    return max(min(debit_fen, tenant.promo_balance_fen), 0)


def debit(tenant_id: int, kind: str, amount_fen: int, *, key: str | None, require_available: bool,
          call_uuid: str = "", note: str = "", actor: str = "system", at: datetime | None = None
          ) -> tuple[LedgerEntry | None, bool]:
    """Take ``amount_fen`` (> 0) from a tenant, promotional credit first.

    With ``require_available`` the debit must fit in balance minus live holds (rents, purchases);
    without it the debit always posts (a call that happened is charged even if it overran its
    hold). Returns (entry, created); the same key twice gives (existing entry, False).
    """
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise InvalidInput("a debit is a positive whole number of fen, got %(amount_fen)r", amount_fen=amount_fen)
    at = at or utcnow()
    with write_transaction():
        tenant = posting.locked_tenant(tenant_id)
        existing = posting.posted(key)
        if existing is not None:
            return existing, False
        if require_available:
            money = available(tenant, at)
            if amount_fen > money.available_fen:
                raise InsufficientBalance(
                    f"tenant {tenant.code}: {kind} of {amount_fen} fen needs more than the available "
                    f"{money.available_fen} fen (balance {money.balance_fen} - live holds {money.held_fen})")
        promo = promo_part_of_debit(tenant, amount_fen)
        return posting.post(tenant.id, kind, -amount_fen, promo_fen=-promo, key=key, call_uuid=call_uuid,
                           note=note, actor=actor, at=at)
