"""Seat and number rents (RULEBOOK C3): paid in advance per period, renewed while the balance
allows, otherwise lapsing at the paid-through time.

A seat is paid through ``Seat.valid_to``, a number through ``NumberLease.paid_through``; the
admission policy reads those two columns, so a lapse needs no write at all: the time passing is
the lapse. A renewal moves the paid-through time one period on and posts the rent under the key
``seat_rent:<seat id>:<period start>`` / ``number_rent:<lease id>:<tenant id>:<period start>``, in
one transaction under the tenant's row lock, so however many processes run the job at once a
period is paid once.

Renewal is tried from ``renew_ahead`` before the paid-through time until that time; a renewal that
the available balance (balance minus live holds) cannot pay is retried on the next run; at the
paid-through time the seat or number lapses and is not renewed by the job any more (a lapsed
number may be leased to someone else; buying again is an operator action).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain import rating
from domain.clock import utcnow
from models.complaints.audit import audit
from models.db import for_update, write_transaction
from models.ledger import posting
from models.ledger.balances import InsufficientBalance, debit
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Tenant

DEFAULT_RENEW_AHEAD = timedelta(hours=24)
RENEWING_STATUSES = ("pending_review", "active", "suspended")  # not terminated


def _stamp(value: datetime) -> str:
    return value.isoformat()


def seat_rent_key(seat_id: int, period_start: datetime) -> str:
    return f"seat_rent:{seat_id}:{_stamp(period_start)}"


def seat_of_rent_key(key: str) -> int | None:
    """The seat id in a ``seat_rent_key``; None for any other key."""
    kind, _, rest = key.partition(":")
    seat = rest.partition(":")[0]
    return int(seat) if kind == "seat_rent" and seat.isdigit() else None


def number_rent_key(lease_id: int, tenant_id: int, period_start: datetime) -> str:
    return f"number_rent:{lease_id}:{tenant_id}:{_stamp(period_start)}"


def rent_for_days(rent_per_period_fen: int, days: int, period_days: int) -> int:
    """Rent for ``days`` of service at ``rent_per_period_fen`` per ``period_days`` (rounded up to a fen)."""
    return rating.ceil_div(rent_per_period_fen * days, period_days) if rent_per_period_fen > 0 else 0


# --- at purchase ----------------------------------------------------------------------------


def charge_seat_purchase(seat: Seat, tenant: Tenant, days: int, period_days: int, *, actor: str = "system") -> int:
    """Seat rent for its first ``days``, paid in advance from the available balance.

    Called inside the purchase's transaction: InsufficientBalance rolls the purchase back."""
    amount = rent_for_days(tenant.seat_rent_fen, days, period_days)
    if amount:
        debit(tenant.id, "seat_rent", amount, key=seat_rent_key(seat.id, seat.valid_from), require_available=True,
              note=f"seat {seat.address}: {days} days from {_stamp(seat.valid_from)}", actor=actor,
              at=seat.valid_from)
    return amount


def charge_number_purchase(lease: NumberLease, days: int, period_days: int, *, actor: str = "system") -> int:
    """Number rent from the payment day (the lease's start) for ``days``, paid in advance."""
    amount = rent_for_days(lease.monthly_fee_fen, days, period_days)
    if amount:
        debit(lease.tenant_id, "number_rent", amount,
              key=number_rent_key(lease.id, lease.tenant_id, lease.leased_at), require_available=True,
              note=f"number {lease.number}: {days} days from {_stamp(lease.leased_at)}", actor=actor,
              at=lease.leased_at)
    return amount


# --- renewals -------------------------------------------------------------------------------


@dataclass
class RenewalReport:
    seats_renewed: int = 0
    numbers_renewed: int = 0
    rent_fen: int = 0
    short_of_money: list[str] = field(default_factory=list)  # retried on the next run until they lapse

    def summary(self) -> str:
        text = (f"{self.seats_renewed} seat(s) and {self.numbers_renewed} number(s) renewed, "
                f"{self.rent_fen} fen rent")
        if self.short_of_money:
            text += f"; {len(self.short_of_money)} not renewed for lack of available balance"
        return text


RENEWED, SKIPPED, SHORT = "renewed", "skipped", "short"


def renew_seat(seat_id: int, period_start: datetime, period_days: int, *, at: datetime,
               actor: str = "jobs") -> tuple[str, int]:
    """Renew one seat whose paid period ends at ``period_start``: (RENEWED, rent posted),
    (SKIPPED, 0) when another process renewed it meanwhile or it lapsed or was given up, or
    (SHORT, 0) when the available balance cannot pay the rent."""
    seat = Seat.get_by_id(seat_id)
    with write_transaction():
        tenant = posting.locked_tenant(seat.tenant_id)
        seat = for_update(Seat.select().where(Seat.id == seat_id)).get()
        if seat.valid_to != period_start or not seat.active or at >= seat.valid_to:
            return SKIPPED, 0  # renewed meanwhile, deactivated, or lapsed
        if tenant.status not in RENEWING_STATUSES or not seat.auto_renew:
            return SKIPPED, 0
        rent = tenant.seat_rent_fen
        created = False
        if rent > 0:
            try:
                _, created = debit(tenant.id, "seat_rent", rent, key=seat_rent_key(seat.id, period_start),
                                   require_available=True, at=at, actor=actor,
                                   note=f"seat {seat.address}: {period_days} days from {_stamp(period_start)}")
            except InsufficientBalance:
                return SHORT, 0
        Seat.update(valid_to=period_start + timedelta(days=period_days)).where(Seat.id == seat.id).execute()
        audit(actor, "seat.renew", tenant=tenant, target=seat.address, period_start=_stamp(period_start),
              rent_fen=rent)
        return RENEWED, rent if created else 0


def renew_number(lease_id: int, period_start: datetime, period_days: int, *, at: datetime,
                 actor: str = "jobs") -> tuple[str, int]:
    """Like ``renew_seat``, for a leased number and its monthly fee."""
    lease = NumberLease.get_by_id(lease_id)
    with write_transaction():
        tenant = posting.locked_tenant(lease.tenant_id)
        lease = for_update(NumberLease.select().where(NumberLease.id == lease_id)).get()
        if (lease.paid_through != period_start or lease.released_at is not None or not lease.auto_renew
                or lease.tenant_id != tenant.id or at >= lease.paid_through):
            return SKIPPED, 0
        if tenant.status not in RENEWING_STATUSES:
            return SKIPPED, 0
        fee = lease.monthly_fee_fen
        created = False
        if fee > 0:
            try:
                _, created = debit(tenant.id, "number_rent", fee,
                                   key=number_rent_key(lease.id, tenant.id, period_start), require_available=True,
                                   at=at, actor=actor,
                                   note=f"number {lease.number}: {period_days} days from {_stamp(period_start)}")
            except InsufficientBalance:
                return SHORT, 0
        NumberLease.update(paid_through=period_start + timedelta(days=period_days)).where(
            NumberLease.id == lease.id).execute()
        audit(actor, "number.renew", tenant=tenant, target=lease.number, period_start=_stamp(period_start),
              rent_fen=fee)
        return RENEWED, fee if created else 0


def renew_due(*, at: datetime | None = None, seat_period_days: int = 30, number_period_days: int = 30,
              renew_ahead: timedelta = DEFAULT_RENEW_AHEAD) -> RenewalReport:
    """Renew every seat and number whose paid period ends within ``renew_ahead`` of ``at`` and has
    not ended yet. Idempotent, and safe to run in several processes at once."""
    at = at or utcnow()
    horizon = at + renew_ahead
    report = RenewalReport()
    live_tenants = Tenant.select(Tenant.id).where(Tenant.status.in_(RENEWING_STATUSES))
    seats = (Seat.select(Seat.id, Seat.valid_to, Seat.sip_user, Seat.sip_domain)
             .where(Seat.active & Seat.auto_renew & (Seat.valid_to > at) & (Seat.valid_to <= horizon)
                    & Seat.tenant.in_(live_tenants))
             .order_by(Seat.tenant, Seat.id))
    for seat in list(seats):
        status, rent = renew_seat(seat.id, seat.valid_to, seat_period_days, at=at)
        if status == SHORT:
            report.short_of_money.append(f"seat {seat.address}")
        elif status == RENEWED:
            report.seats_renewed += 1
            report.rent_fen += rent
    leases = (NumberLease.select(NumberLease.id, NumberLease.paid_through, NumberLease.number)
              .where(NumberLease.released_at.is_null() & NumberLease.auto_renew
                     & (NumberLease.paid_through > at) & (NumberLease.paid_through <= horizon)
                     & NumberLease.tenant.in_(live_tenants))
              .order_by(NumberLease.tenant, NumberLease.id))
    for lease in list(leases):
        status, fee = renew_number(lease.id, lease.paid_through, number_period_days, at=at)
        if status == SHORT:
            report.short_of_money.append(f"number {lease.number}")
        elif status == RENEWED:
            report.numbers_renewed += 1
            report.rent_fen += fee
    return report
