"""Posting to the append-only ledger: one entry and the tenant's balance cache move together.

The tenant row is locked first (FOR UPDATE on PostgreSQL, an IMMEDIATE transaction on SQLite), so
concurrent postings for one tenant serialise and an idempotency key is checked under that lock:
the same key posted twice, by any process, yields one entry.
"""
from __future__ import annotations

from domain.bounds import BALANCE_FEN, OutOfRange, shown
from domain.clock import utcnow
from domain.errors import InvalidInput
from models import sql_statements as sql
from models.db import for_update, write_transaction
from models.ledger.tables import LEDGER_KINDS, LedgerEntry
from models.tenancy.tables import Tenant


def locked_tenant(tenant_id: int) -> Tenant:
    return for_update(Tenant.select().where(Tenant.id == tenant_id)).get()


def posted(key: str | None) -> LedgerEntry | None:
    """The entry already posted under an idempotency key (check it under the tenant's lock)."""
    return LedgerEntry.get_or_none(LedgerEntry.idempotency_key == key) if key is not None else None


def post(tenant_id: int, kind: str, amount_fen: int, *, promo_fen: int = 0, key: str | None = None,
         call_uuid: str = "", note: str = "", actor: str = "", at=None) -> tuple[LedgerEntry, bool]:
    """Append an entry; returns (entry, created). With a key already posted: (existing, False)."""
    if kind not in LEDGER_KINDS:
        raise InvalidInput("unknown ledger kind %(kind)r", kind=kind)
    if not isinstance(amount_fen, int) or not isinstance(promo_fen, int):
        raise InvalidInput("ledger amounts are integer fen")
    with write_transaction():
        tenant = locked_tenant(tenant_id)
        existing = posted(key)
        if existing is not None:
            return existing, False
        entry, _, _ = append_locked(tenant.id, tenant.balance_fen, tenant.promo_balance_fen, kind, amount_fen,
                                    promo_fen, key=key, call_uuid=call_uuid, note=note, actor=actor, at=at)
        return entry, True


def append_locked(tenant_id: int, balance_fen: int, promo_balance_fen: int, kind: str, amount_fen: int,
                  promo_fen: int, *, key: str | None, call_uuid: str = "", note: str = "", actor: str = "",
                  at=None) -> tuple[LedgerEntry, int, int]:
    """The one way an entry is appended: the entry with its balance_after and the tenant's balance
    caches, moved together. The caller holds the tenant row's lock (this transaction read
    ``balance_fen``/``promo_balance_fen`` under it) and has checked the key. Named prepared statements:
    this runs at every hangup. Returns (entry, new balance, new promotional balance); a balance
    that would leave its BIGINT column is refused (OutOfRange) before anything is written."""
    balance = balance_fen + amount_fen
    promo_balance = promo_balance_fen + promo_fen
    _check_columns(kind, amount_fen, promo_fen, balance, promo_balance)
    fields = dict(tenant=tenant_id, kind=kind, amount_fen=amount_fen, promo_fen=promo_fen,
                  balance_after_fen=balance, idempotency_key=key, call_uuid=call_uuid, note=note, actor=actor,
                  created_at=at or utcnow())
    entry_id = sql.insert_row(LedgerEntry, fields)
    sql.run("tenant_balances_set", (balance, promo_balance, tenant_id))
    return LedgerEntry(id=entry_id, **fields), balance, promo_balance


def _check_columns(kind: str, amount_fen: int, promo_fen: int, balance: int, promo_balance: int) -> None:
    """Every number of the entry and the balance caches must fit its BIGINT column."""
    for value in (amount_fen, promo_fen):
        if BALANCE_FEN.problem(value):
            raise OutOfRange("%(kind)s of %(amount)s fen refused: an amount must be between %(low)s and %(high)s fen",
                             kind=kind, amount=shown(amount_fen), low=BALANCE_FEN.low, high=BALANCE_FEN.high)
    for what, value in (("balance", balance), ("promotional balance", promo_balance)):
        if BALANCE_FEN.problem(value):
            raise OutOfRange("%(kind)s of %(amount)s fen refused: the %(what)s would be %(value)s fen, "
                             "more than the %(limit)s fen a balance can hold" if value > 0 else
                             "%(kind)s of %(amount)s fen refused: the %(what)s would be %(value)s fen, "
                             "less than the %(limit)s fen a balance can hold", kind=kind, amount=shown(amount_fen), what=what, value=shown(value),
                             limit=BALANCE_FEN.high if value > 0 else BALANCE_FEN.low)


def verify_tenant_ledger(tenant: Tenant) -> list[str]:
    """Problems with one tenant's ledger (empty when sound): the balance cache must equal the
    sum of the ledger, the promotional cache the sum of its promotional parts, and every entry's
    balance_after must follow from the one before it."""
    problems = []
    running = 0
    promo_total = 0
    count = 0
    for entry_id, amount, promo, after in (LedgerEntry.select(LedgerEntry.id, LedgerEntry.amount_fen,
                                                              LedgerEntry.promo_fen, LedgerEntry.balance_after_fen)
                                           .where(LedgerEntry.tenant == tenant.id)
                                           .order_by(LedgerEntry.id).tuples().iterator()):
        running += amount
        promo_total += promo
        count += 1
        if after != running and len(problems) < 3:
            problems.append(f"entry {entry_id}: balance_after {after} != running sum {running}")
    if tenant.balance_fen != running:
        problems.append(f"balance cache {tenant.balance_fen} != ledger sum {running} ({count} entries)")
    if tenant.promo_balance_fen != promo_total:
        problems.append(f"promotional cache {tenant.promo_balance_fen} != ledger promotional sum {promo_total}")
    if promo_total < 0:
        problems.append(f"promotional balance is negative ({promo_total})")
    return problems
