"""Seats and their SIP accounts: add (one or a CSV of many), rotate the password, disable, enable.

A seat is ``user@domain`` where the domain is its tenant's own SIP domain (``tenant.sip_domain``),
so a domain belongs to one tenant and two tenants can both have a user 1001. Every function that
creates or rotates a credential generates the password (``sip_credentials``), stores only its
a1-hash and hands the password back exactly once: on ``Seat.issued_password`` of the returned
object, an attribute no query ever fills. The caller shows it (CLI, admin) or writes it to a
private file (import); it is never logged or audited.

Telling FreeSWITCH that a credential changed (flush its cached copy, unregister the phone) is
not done here: models talk to no switch. ``fs_app.seat_revocation`` does it after these return.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from peewee import fn

from domain import bounds
from domain.clock import utcnow
from domain.errors import ForeignReference, InvalidInput, NotFound
from domain.numbers import normalize
from models.complaints.audit import audit
from models.csv_import import ImportReport, validate_csv
from models.db import database, write_transaction
from models.seats import rent
from domain.sip_credentials import a1_hash, generate_password
from models.seats.tables import SEAT_ROLES, NumberLease, Seat
from models.tenancy.campaigns import get_campaign
from models.tenancy.tables import Tenant
from models.tenancy.tenants import claim_domain, get_tenant

SIP_ADDRESS = re.compile(r"^([A-Za-z0-9_.+-]{1,100})@([A-Za-z0-9.-]{1,200})$")
_USER = SIP_ADDRESS.pattern.split("@")[0].lstrip("^")  # the user part of USER@DOMAIN


def split_seat(tenant: Tenant, address: str) -> tuple[str, str]:
    """(user, domain) of ``USER`` or ``USER@DOMAIN``; a bare USER is on the tenant's domain."""
    text = (address or "").strip()
    if "@" not in text:
        text = f"{text}@{tenant.sip_domain}"
    match = SIP_ADDRESS.match(text)
    if not match:
        raise InvalidInput("invalid seat %(address)r: expected USER or USER@DOMAIN", address=address)
    return match.group(1), match.group(2).lower()


def get_tenant_seat(tenant_code: str, address: str) -> tuple[Tenant, Seat]:
    tenant = get_tenant(tenant_code)
    user, domain = split_seat(tenant, address)
    seat = Seat.get_or_none((Seat.sip_user == user) & (Seat.sip_domain == domain) & (Seat.tenant == tenant))
    if seat is None:
        raise NotFound("tenant %(tenant_code)s has no seat %(user)s@%(domain)s", tenant_code=tenant.code, user=user, domain=domain)
    return tenant, seat


@dataclass
class SeatRequest:
    """One seat to add, validated (the tenant-independent part)."""

    user: str
    domain: str
    role: str = "agent"
    days: int = 30
    pinned: NumberLease | None = None
    campaign: object = None


def _validate(tenant: Tenant, address: str, role: str, days: int, pin_number: str | None, campaign: str | None,
              region: str) -> SeatRequest:
    user, domain = split_seat(tenant, address)
    if role not in SEAT_ROLES:
        raise InvalidInput("invalid role %(role)r: expected agent or admin", role=role)
    bounds.DAYS.check(days, "days")
    pinned = None
    if pin_number:
        number = normalize(pin_number, region)
        pinned = NumberLease.get_or_none((NumberLease.number == number) & (NumberLease.tenant == tenant))
        if pinned is None:
            raise ForeignReference("number", number, tenant.code, "%(number)s is not leased to tenant %(tenant_code)s", number=number, tenant_code=tenant.code)
    default_campaign = get_campaign(tenant, campaign) if campaign else None
    return SeatRequest(user, domain, role, days, pinned, default_campaign)


def _create(tenant: Tenant, request: SeatRequest, period_days: int, actor: str) -> Seat:
    """Inside a write transaction: check the domain, uniqueness and seat count, then create and
    charge the first rent (C3). Returns the seat with ``issued_password``."""
    claim_domain(tenant, request.domain, actor=actor)
    if Seat.select().where((Seat.sip_user == request.user) & (Seat.sip_domain == request.domain)).exists():
        raise InvalidInput("seat %(request_user)s@%(request_domain)s already exists", request_user=request.user, request_domain=request.domain)
    used = Seat.select().where((Seat.tenant == tenant) & Seat.active).count()
    if used >= tenant.seats_purchased:
        raise InvalidInput("tenant %(tenant_code)s has used all %(tenant_seats_purchased)s purchased seats", tenant_code=tenant.code, tenant_seats_purchased=tenant.seats_purchased)
    password = generate_password()
    now = utcnow()
    seat = Seat.create(tenant=tenant, sip_user=request.user, sip_domain=request.domain, role=request.role,
                       valid_from=now, valid_to=now + timedelta(days=request.days), pinned_number=request.pinned,
                       default_campaign=request.campaign,
                       sip_a1_hash=a1_hash(request.user, request.domain, password))
    rent.charge_seat_purchase(seat, tenant, request.days, period_days, actor=actor)  # C3: rent in advance
    audit(actor, "seat.add", tenant=tenant, target=seat.address, role=request.role, days=request.days)
    seat.issued_password = password
    return seat


def add_seat(tenant_code: str, address: str, *, role: str = "agent", days: int = 30,
             pin_number: str | None = None, campaign: str | None = None, region: str = "CN",
             period_days: int = 30, actor: str = "system") -> Seat:
    """Add one seat with a new SIP password (``seat.issued_password``, shown once by the caller).

    ``address`` is USER (on the tenant's domain) or USER@DOMAIN; a tenant without seats may name
    a new domain this way, which becomes its SIP domain."""
    tenant = get_tenant(tenant_code)
    request = _validate(tenant, address, role, days, pin_number, campaign, region)
    with write_transaction():
        return _create(tenant, request, period_days, actor)


def rotate_password(tenant_code: str, address: str, *, actor: str = "system") -> Seat:
    """A new SIP password for a seat; the old one stops working once FreeSWITCH's cached copy is
    flushed (``fs_app.seat_revocation``)."""
    tenant, seat = get_tenant_seat(tenant_code, address)
    password = generate_password()
    with write_transaction():
        Seat.update(sip_a1_hash=a1_hash(seat.sip_user, seat.sip_domain, password)).where(Seat.id == seat.id).execute()
        audit(actor, "seat.password", tenant=tenant, target=seat.address)
    seat = Seat.get_by_id(seat.id)
    seat.issued_password = password
    return seat


def set_active(tenant_code: str, address: str, active: bool, *, actor: str = "system") -> Seat:
    """Disable a seat (the directory stops answering for it at once) or enable it again (within
    the purchased seat count)."""
    tenant, seat = get_tenant_seat(tenant_code, address)
    if seat.active == active:
        raise InvalidInput("seat %(address)s is already enabled" if active else "seat %(address)s is already disabled",
                           address=seat.address)
    with write_transaction():
        if active:
            used = Seat.select().where((Seat.tenant == tenant) & Seat.active).count()
            if used >= tenant.seats_purchased:
                raise InvalidInput("tenant %(tenant_code)s has used all %(tenant_seats_purchased)s purchased seats", tenant_code=tenant.code, tenant_seats_purchased=tenant.seats_purchased)
        Seat.update(active=active).where(Seat.id == seat.id).execute()
        audit(actor, "seat.enable" if active else "seat.disable", tenant=tenant, target=seat.address)
    return Seat.get_by_id(seat.id)


def set_routing(tenant_code: str, address: str, *, pin_number: str | None = None, campaign: str | None = None,
                region: str = "CN", actor: str = "system") -> Seat:
    """Set a seat's pinned caller-ID number (A10) and its default campaign. ``None`` leaves a
    field as it is, ``""`` clears it; a number or campaign of another tenant is not found."""
    tenant, seat = get_tenant_seat(tenant_code, address)
    changes: dict = {}
    if pin_number is not None:
        pinned = None
        if pin_number.strip():
            number = normalize(pin_number, region)
            pinned = NumberLease.get_or_none((NumberLease.number == number) & (NumberLease.tenant == tenant)
                                             & NumberLease.released_at.is_null())
            if pinned is None:
                raise ForeignReference("number", number, tenant.code, "%(number)s is not leased to tenant %(tenant_code)s",
                                       number=number, tenant_code=tenant.code)
        changes["pinned_number"] = pinned
    if campaign is not None:
        changes["default_campaign"] = get_campaign(tenant, campaign.strip()) if campaign.strip() else None
    if not changes:
        raise InvalidInput("nothing to change: give a pinned number or a campaign")
    with write_transaction():
        Seat.update(**changes).where(Seat.id == seat.id).execute()
        audit(actor, "seat.routing", tenant=tenant, target=seat.address,
              **{k: (v.number if k == "pinned_number" and v else v.code if v else "") for k, v in changes.items()})
    return Seat.get_by_id(seat.id)


@dataclass
class SeatImport(ImportReport):
    seats: list[Seat] = field(default_factory=list)  # the seats added, each with issued_password


IMPORT_COLUMNS = ("user", "role", "days", "pin_number", "campaign")


def import_seats(tenant_code: str, text: str, *, strict: bool = False, days: int = 30, region: str = "CN",
                 period_days: int = 30, actor: str = "system") -> SeatImport:
    """CSV with a header: user[,role][,days][,pin_number][,campaign]; ``user`` is USER or
    USER@DOMAIN. Every row is checked first; then each good row is added in its own savepoint, so
    a row that fails late (seat count, balance for the rent) is reported and the others stay. With
    ``strict`` any bad row means nothing is written."""
    tenant = get_tenant(tenant_code)
    seen: set[tuple[str, str]] = set()

    def build(row: dict) -> SeatRequest:
        row_days = row.get("days", "").strip()
        try:
            wanted_days = int(row_days) if row_days else days
        except ValueError:
            raise InvalidInput("days must be a whole number, got %(row_days)r", row_days=row_days) from None
        request = _validate(tenant, row.get("user", ""), (row.get("role") or "agent").strip() or "agent",
                            wanted_days, row.get("pin_number", "").strip() or None,
                            row.get("campaign", "").strip() or None, region)
        if (request.user, request.domain) in seen:
            raise InvalidInput("seat %(request_user)s@%(request_domain)s appears twice in the file", request_user=request.user, request_domain=request.domain)
        seen.add((request.user, request.domain))
        return request

    checked, requests = validate_csv(text, required=("user",), optional=IMPORT_COLUMNS[1:], build=build,
                                      with_lines=True)
    report = SeatImport(errors=checked.errors)
    if strict and report.errors:
        report.written = False
        return report
    try:
        with write_transaction():
            for line, request in requests:
                try:
                    with database.atomic():
                        report.seats.append(_create(tenant, request, period_days, actor))
                except InvalidInput as exc:
                    report.errors.append((line, exc))
                    if strict:
                        raise _StrictImportFailed() from None
    except _StrictImportFailed:
        report.seats.clear()
        report.written = False
        return report
    report.errors.sort(key=lambda error: error[0])
    report.imported = len(report.seats)
    return report


class _StrictImportFailed(Exception):
    """Rolls a strict import back when a row fails while it is being written."""


def split_sip_address(address: str) -> tuple[str, str]:
    match = SIP_ADDRESS.match((address or "").strip())
    if not match:
        raise InvalidInput("invalid seat %(address)r: expected USER@DOMAIN", address=address)
    return match.group(1), match.group(2).lower()


def get_seat(address: str) -> Seat:
    user, domain = split_sip_address(address)
    seat = Seat.get_or_none((Seat.sip_user == user) & (Seat.sip_domain == domain))
    if seat is None:
        raise NotFound("unknown seat %(address)r", address=address)
    return seat


def seats_in_use(tenant: Tenant) -> int:
    return Seat.select(fn.COUNT(Seat.id)).where((Seat.tenant == tenant) & Seat.active).scalar()
