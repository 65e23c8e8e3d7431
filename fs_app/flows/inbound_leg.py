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

from models.clock import utcnow
from models.db import unit_of_work
from models.reservations import busy_seats
from models.tenancy import Seat

from fs_app import prompts
from fs_app.channel import Channel, ChannelGone
from fs_app.charging import ChargingSession
from fs_app.inbound_admission import InboundAdmission, admit_inbound
from fs_app.logs import bind_call, call_context
from fs_app.metering import Meter

from .common import fs_time, play, prompt_file, quietly, update_record
from .limits import DurationLimit
from .recording import recording_path

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


class InboundCall:
    def __init__(self, channel: Channel, settings, meter: Meter, admission: InboundAdmission, lang: str):
        self.channel = channel
        self.settings = settings
        self.meter = meter
        self.admission = admission
        self.code = admission.tenant.code
        self.lang = lang
        self.played: list[str] = []
        self.evidence: dict = {}

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
                digit = self._ask_consent()
                # evidence: the key and FreeSWITCH's time of its DTMF event (silence: now)
                pressed = fs_time(channel.key_pressed_at(digit)) if digit else None
                self.evidence = {"recording_digit": digit or "", "recording_consent_at": pressed or utcnow()}
            targets = self._seat_targets()
            if not targets:
                self._nobody()
                return
            if digit == self.settings.consent_agree_key:
                path = recording_path(self.settings, self.code, uuid, utcnow())
                channel.record_session(path)
                self.evidence["recording_path"] = path
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

    def _ask_consent(self) -> str | None:
        path = prompt_file(self.settings, "inbound_consent_request", self.lang, self.code)
        agree, decline = self.settings.consent_agree_key, self.settings.consent_decline_key
        for _ in range(1 + self.settings.recording_consent_repeats):
            self.played.append("inbound_consent_request")
            digit = self.channel.play_and_get_digits(
                path, min_digits=1, max_digits=1, tries=1,
                digit_timeout_ms=self.settings.recording_consent_timeout_s * 1000, terminators="none",
                regexp="^[" + re.escape(agree + decline) + "]$", var_name="fsapp_digit")
            if digit in (agree, decline):
                return digit
        return None

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
        play(self.channel, self.settings, "inbound_nobody_available", self.lang, self.played, self.code)
        self.channel.hangup("NORMAL_CLEARING")

    def _settle(self, session: ChargingSession, answered_at) -> None:
        uuid = self.channel.uuid
        quietly(self.channel.wait_hangup_complete, timeout=self.settings.esl_command_timeout_s)
        event = self.channel.hangup_event
        ended_at = utcnow()
        if event is not None:
            answered_at = fs_time(event.get("Caller-Channel-Answered-Time")) or answered_at
            ended_at = fs_time(event.get("Caller-Channel-Hangup-Time")) or ended_at
        changes = dict(prompts=self.played, **self.evidence)
        try:
            if answered_at is None:
                update_record(callee_uuid=uuid, **changes)
            else:  # the record's evidence is written in the charge's transaction
                try:  # the reservation ends in the charge's transaction
                    session.terminate(answered_at=answered_at, ended_at=ended_at,
                                      hangup_cause=self.channel.hangup_cause or "", direction="inbound",
                                      record_changes=changes)
                except Exception:  # noqa: BLE001 - the CDR reconciliation charges it later
                    log.exception("could not charge inbound call %s", uuid)
                    update_record(callee_uuid=uuid, **changes)
        finally:
            session.end(originated=False)
