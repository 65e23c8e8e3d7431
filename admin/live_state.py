"""What is happening now, for the live page and its JSON: live calls (their holds), and each
seat's state (cannot work: why; else in a call / registered and idle / not registered).

Scoped like every page (a tenant admin sees their tenant only) and masked like every page
(numbers as ``138****8000``; the live view reveals nothing, so it writes no audit row). Seat
registrations come from FreeSWITCH's inbound Event Socket with the seats page's short deadline;
when it cannot answer, seats that are not in a call say "unknown" and a note says why.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask import url_for

from models.calls.tables import CallRecord, Hold
from models.tenancy.tables import Campaign, Tenant
from models.seats.tables import Seat
from models.seats.validity import USABLE, account_banned_tenants, seat_state

from fs_app.registrations import RegistrationStatus

from .formatting import local_time, phone, yuan
from .i18n import error_text
from .labels import DIRECTION, STATUS
from .state_labels import BADGE, LIVE_STATE, SEAT_STATE, label

MAX_CALLS = 500  # rows of the live page; the count above it is exact
MAX_SEATS = 2000


@dataclass
class LiveView:
    calls: list[dict] = field(default_factory=list)
    call_count: int = 0
    held_fen: int = 0
    seats: list[dict] = field(default_factory=list)
    seat_counts: dict[str, int] = field(default_factory=dict)
    registrations_note: str = ""

    def document(self, now: datetime) -> dict:
        return {"now": local_time(now), "call_count": self.call_count, "held": yuan(self.held_fen),
                "calls": self.calls, "seats": self.seats, "seat_counts": self.seat_counts,
                "registrations_note": self.registrations_note}


def _live_holds(tenant_id: int | None, now: datetime):
    query = Hold.select().where(Hold.live_at(now))
    return query.where(Hold.tenant == tenant_id) if tenant_id is not None else query


def build(tenant_id: int | None, now: datetime, registrations: RegistrationStatus, *, can_end) -> LiveView:
    """``can_end(hold) -> bool``: whether the user may end that call (a link is offered)."""
    view = LiveView()
    holds = list(_live_holds(tenant_id, now).order_by(Hold.created_at).limit(MAX_CALLS))
    view.call_count = _live_holds(tenant_id, now).count()
    records = {r.agent_uuid: r for r in CallRecord.select().where(
        CallRecord.agent_uuid.in_([h.call_uuid for h in holds]))} if holds else {}
    codes = dict(Tenant.select(Tenant.id, Tenant.code).tuples())
    seat_addresses = {seat_id: f"{user}@{domain}" for seat_id, user, domain in Seat.select(
        Seat.id, Seat.sip_user, Seat.sip_domain).where(Seat.id.in_([h.seat_id for h in holds if h.seat_id])).tuples()}
    campaign_codes = dict(Campaign.select(Campaign.id, Campaign.code).where(
        Campaign.id.in_([r.campaign_id for r in records.values() if r.campaign_id])).tuples()) if records else {}
    in_call: dict[int, int] = {}
    for hold in holds:
        record = records.get(hold.call_uuid)
        if hold.seat_id:
            in_call[hold.seat_id] = in_call.get(hold.seat_id, 0) + 1
        view.held_fen += hold.amount_fen
        view.calls.append({
            "uuid": hold.call_uuid, "tenant": codes.get(hold.tenant_id, ""),
            "seat": seat_addresses.get(hold.seat_id, "") if hold.seat_id else "",
            "direction": hold.direction, "direction_label": label(DIRECTION, hold.direction),
            "caller": phone(record.caller_number) if record else "", "callee": phone(hold.callee_number),
            "campaign": campaign_codes.get(record.campaign_id, "") if record and record.campaign_id else "",
            "state": record.result if record else "",
            "state_label": label(STATUS, record.result) if record else "",
            "started": local_time(hold.created_at, "%H:%M:%S"),
            "seconds": max(0, int((now - hold.created_at).total_seconds())),
            "held": yuan(hold.amount_fen), "node": hold.node,
            "end_url": url_for("live.end_call", uuid=hold.call_uuid) if can_end(hold) else "",
        })
    _seat_rows(view, tenant_id, now, registrations, in_call)
    return view


def _seat_rows(view: LiveView, tenant_id, now, registrations: RegistrationStatus, in_call: dict[int, int]) -> None:
    query = Seat.select(Seat, Tenant).join(Tenant).order_by(Tenant.code, Seat.sip_user).limit(MAX_SEATS)
    if tenant_id is not None:
        query = query.where(Seat.tenant == tenant_id)
    seats = list(query)
    banned = account_banned_tenants(now, {s.tenant_id for s in seats})
    view.registrations_note = "" if registrations.known else error_text(registrations.error)  # the page's language
    for seat in seats:
        state = seat_state(seat, seat.tenant, now, account_banned=seat.tenant_id in banned)
        registered = registrations.of(seat.address) if registrations.known else None
        if state in USABLE:
            if in_call.get(seat.id):
                live = "in_call"
            elif registered is None:
                live = "unknown"
            else:
                live = "idle" if registered else "unregistered"
            text = label(LIVE_STATE, live)
            if state == "expiring":
                text = f"{text} · {label(SEAT_STATE, state)}"
        else:
            live, text = state, label(SEAT_STATE, state)
        view.seat_counts[live] = view.seat_counts.get(live, 0) + 1
        view.seats.append({
            "seat": seat.address, "tenant": seat.tenant.code, "state": live, "label": text,
            "badge": BADGE.get(live, ""), "calls": in_call.get(seat.id, 0),
            "registered": None if registered is None else bool(registered),
            "agent": registered[0].agent if registered else "",
            "valid_to": local_time(seat.valid_to, "%Y-%m-%d %H:%M"),
        })
