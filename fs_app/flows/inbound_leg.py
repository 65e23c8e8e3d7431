"""The inbound leg: a caller dialled a number leased to a tenant.

admit (lease paid through, A1, A2 inbound ban, A13 at the inbound rate, number slot A10) ->
refused: the polite ``inbound_unreachable`` and a fitting cause -> admitted: answer (billing
starts, C1; limit armed, B5), recording notice with 1/2 (B2, unless recording is banned), then
the ``bridge`` app to the tenant's free seats (simultaneous ``,`` or sequential ``|`` per the
lease's inbound_mode, each ringing ``inbound_ring_timeout_s``); nobody free or nobody answers:
``inbound_nobody_available``. At hangup: one charge at the tenant's inbound rate, release.
"""
from __future__ import annotations

import logging
import re

from domain.clock import utcnow
from models.db import unit_of_work
from models.calls.reservations import busy_seats
from models.seats.tables import Seat

from fs_app import prompts
from fs_app.channel import Channel, ChannelGone
from fs_app.charging import ChargingSession
from fs_app.inbound_admission import InboundAdmission, admit_inbound
from fs_app.logs import bind_call, call_context
from fs_app.metering import Meter

from .common import quietly, update_record
from .limits import DurationLimit
from .steps.announce import announce, play
from .steps.base import Leg
from .steps.consent import ask_consent, note_consent
from .steps.record import start_recording
from .steps.settle import settle

log = logging.getLogger("fsapp.flows.inbound")


def run(channel: Channel, settings, meter: Meter) -> None:
    uuid = channel.uuid
    with call_context(call_uuid=uuid):
        dialled = channel.get("Caller-Destination-Number") or ""
        caller = channel.get("Caller-Caller-ID-Number") or ""
        admission = admit_inbound(uuid, dialled, caller, utcnow(), settings)
        code = admission.tenant.code if admission.tenant is not None else ""
        bind_call(tenant=code)
        lang = prompts.language_for_number(caller if caller.startswith("+") else "")
        if not admission.allowed:
            cause = "USER_BUSY" if admission.codes == ("NUMBER_BUSY",) else "CALL_REJECTED"
            log.info("inbound call to %s refused: %s", dialled, ",".join(admission.codes))
            update_record(record_id=admission.record_id, prompts=["inbound_unreachable"], hangup_cause=cause)
            try:
                channel.execute("pre_answer")
                play(channel, settings, "inbound_unreachable", lang, [], code)
            finally:
                quietly(channel.hangup, cause)
            return
        InboundCall(channel, settings, meter, admission, lang).run()


class InboundCall(Leg):
    def __init__(self, channel: Channel, settings, meter: Meter, admission: InboundAdmission, lang: str):
        super().__init__(channel, settings, lang=lang, tenant_code=admission.tenant.code)
        self.meter = meter
        self.admission = admission
        self.code = admission.tenant.code

    def run(self) -> None:
        channel, uuid = self.channel, self.channel.uuid
        limit = DurationLimit(channel, self.settings, uuid=uuid, lang=self.lang, tenant_code=self.code)
        # the caller's channel both holds the reservation and keys the charge
        session = ChargingSession(self.meter, agent_uuid=uuid, callee_uuid=uuid, limit=limit)
        answered_at = None
        try:
            channel.answer()
            answered_at = utcnow()
            session.initiate(answered_at)
            digit = None
            if self.admission.decision.record_allowed:
                digit = ask_consent(self, "inbound_consent_request")
                note_consent(self, digit)
            targets = self._seat_targets()
            if not targets:
                self._nobody()
                return
            if digit == self.settings.consent_agree_key:
                self.evidence["recording_path"] = start_recording(channel, self.settings, self.code, uuid)
            session.keep_extending()
            done = channel.execute("bridge", self._dial(targets))
            if (done.get("variable_originate_disposition") or "") != "SUCCESS":
                log.info("no seat answered (%s)", done.get("variable_originate_disposition"))
                self._nobody()
                return
            channel.hangup("NORMAL_CLEARING")
        except ChannelGone:
            log.info("inbound caller hung up (%s)", channel.hangup_cause)
        finally:
            session.stop()
            self._settle(session, answered_at)

    @unit_of_work()
    def _seat_targets(self) -> list[str]:
        """Dial strings of the tenant's seats that are active, inside their validity and not in a
        live call."""
        now = utcnow()
        busy = busy_seats(self.admission.tenant.id, now)
        seats = (Seat.select().where((Seat.tenant == self.admission.tenant.id) & Seat.active
                                     & (Seat.valid_from <= now) & (Seat.valid_to > now) & Seat.id.not_in(busy))
                 .order_by(Seat.id))
        return [f"user/{seat.sip_user}@{seat.sip_domain}" for seat in seats
                if re.fullmatch(r"[A-Za-z0-9_.+-]+", seat.sip_user) and re.fullmatch(r"[A-Za-z0-9.-]+", seat.sip_domain)]

    def _dial(self, targets: list[str]) -> str:
        timeout = self.settings.inbound_ring_timeout_s
        separator = "|" if self.admission.lease.inbound_mode == "sequential" else ","
        return f"{{originate_timeout={timeout},leg_timeout={timeout}}}" + separator.join(targets)

    def _nobody(self) -> None:
        announce(self, "inbound_nobody_available")
        self.channel.hangup("NORMAL_CLEARING")

    def _settle(self, session: ChargingSession, answered_at) -> None:
        try:
            settle(self, session, answered_at, dict(prompts=self.played, **self.evidence), direction="inbound")
        finally:
            session.end(originated=False)
