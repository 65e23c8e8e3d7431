"""The end of a connected leg: FreeSWITCH's own times, the one charge and the record's outcome."""
from __future__ import annotations

import logging
from datetime import datetime

from models.calls.billing import ChargeResult
from domain.clock import utcnow

from fs_app import metrics
from fs_app.charging import ChargingSession

from ..common import fs_time, quietly, update_record
from .base import Leg

log = logging.getLogger("fsapp.flows.settle")


def settle(leg: Leg, session: ChargingSession, answered_at: datetime | None, changes: dict, *,
           direction: str, dialled: str = "") -> ChargeResult | None:
    """Wait for the hangup's times, then charge the call once (C1, C6) with the record's
    ``changes`` in the charge's transaction, the reservation ending in it too. A leg never
    answered only gets its record updated. On a database failure the outcome is still written
    and the CDR reconciliation charges the call later (principle 5): None."""
    channel = leg.channel
    quietly(channel.wait_hangup_complete, timeout=leg.settings.esl_command_timeout_s)
    event = channel.hangup_event
    ended_at = None
    if event is not None:
        answered_at = fs_time(event.get("Caller-Channel-Answered-Time")) or answered_at
        ended_at = fs_time(event.get("Caller-Channel-Hangup-Time"))
    ended_at = ended_at or utcnow()
    if answered_at is None:
        update_record(callee_uuid=leg.uuid, **changes)
        return None
    cause = channel.hangup_cause or ""
    try:
        charge = session.terminate(answered_at=answered_at, ended_at=ended_at, hangup_cause=cause,
                                   direction=direction, dialled=dialled, record_changes=changes)
    except Exception:  # noqa: BLE001 - the CDR reconciliation charges it later
        metrics.db_error("charge")
        log.exception("could not charge the call; CDR reconciliation will")
        update_record(callee_uuid=leg.uuid, **changes)  # the outcome is evidence: keep it anyway
        return None
    if charge.charged_now:
        metrics.charge(charge.charge_fen)
    log.info("call ended %s: %s s billed, %s fen", cause, charge.billsec, charge.charge_fen)
    return charge
