"""Seats (purchased vs used, validity, live, SIP registration) and number leases (expiring soon,
lapsed). Registrations come from FreeSWITCH over its inbound Event Socket (``fs_app.registrations``,
an Event Socket client, not call code); when it cannot answer in time the page says so instead."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from peewee import fn

from models.calls.tables import Hold
from domain.clock import utcnow
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Tenant
from models.seats.validity import EXPIRING_SOON_DAYS, account_banned_tenants, lease_state, seat_state

from fs_app.inbound_esl import InboundEventSocket
from fs_app.registrations import registration_status

from ..paging import by_columns
from ..scope import chosen_tenant, restrict, visible_tenants

blueprint = Blueprint("seats", __name__)

REGISTRATIONS_DEADLINE_S = 0.5  # FreeSWITCH down or stuck: the page renders without registrations
PAGE = 100


def _registrations():
    """Registrations from FreeSWITCH's inbound Event Socket, asked with a short deadline."""
    settings = current_app.extensions["fsapp_settings"]
    esl = InboundEventSocket.from_settings(settings)
    esl.timeout = min(esl.timeout, REGISTRATIONS_DEADLINE_S)
    try:
        return registration_status(settings, esl)
    finally:
        esl.close()


def _live_counts(field, now) -> dict[int, int]:
    live = (Hold.select(field, fn.COUNT(Hold.id)).where(Hold.live_at(now)
                                                        & field.is_null(False)).group_by(field))
    return dict(live.tuples())


@blueprint.route("/seats")
def seats():
    now = utcnow()
    page = by_columns(restrict(Seat.select(Seat, Tenant).join(Tenant), Seat.tenant),
                      (Tenant.code, Seat.sip_user, Seat.id), lambda s: (s.tenant.code, s.sip_user, s.id),
                      request.args.get("after", ""), PAGE)
    rows = page.rows
    used = dict(restrict(Seat.select(Seat.tenant, fn.COUNT(Seat.id)).where(Seat.active), Seat.tenant)
                .group_by(Seat.tenant).tuples())
    tenants = [t for t in visible_tenants() if chosen_tenant() is None or t.id == chosen_tenant().id]
    banned = account_banned_tenants(now, {s.tenant_id for s in rows})
    states = {s.id: seat_state(s, s.tenant, now, account_banned=s.tenant_id in banned) for s in rows}
    return render_template("seats.html", seats=rows, seat_states=states, page=page,
                           usage=[(t, used.get(t.id, 0)) for t in tenants],
                           live=_live_counts(Hold.seat, now), now=now, tenant=chosen_tenant(),
                           tenants=visible_tenants(), registrations=_registrations())


@blueprint.route("/numbers")
def numbers():
    now = utcnow()
    page = by_columns(restrict(NumberLease.select(NumberLease, Tenant).join(Tenant), NumberLease.tenant),
                      (NumberLease.paid_through, NumberLease.number, NumberLease.id),
                      lambda n: (n.paid_through, n.number, n.id), request.args.get("after", ""), PAGE)
    return render_template("numbers.html", leases=page.rows, page=page, live=_live_counts(Hold.number, now), now=now,
                           lease_state=lease_state, expiring_days=EXPIRING_SOON_DAYS, tenant=chosen_tenant(),
                           tenants=visible_tenants())
