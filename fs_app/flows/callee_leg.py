"""The callee leg: the leg the agent leg originated, arriving (answered) as its own connection,
possibly in another app process (ARCHITECTURE "The outbound call, end to end", step 4).

answered (billing starts, C1; duration limit armed in FreeSWITCH, B5) -> disclosure (B1) ->
recording consent 1/2 or the opt-out offer (B2, B3) -> opt-out: DNC + consent revoked,
confirmation, end -> otherwise record_session only after an explicit 1, ``uuid_bridge <B> <A>``,
the agent's recorded / not recorded notice (B4) -> hold extended while the call lasts (B5) ->
hangup: the call record and the one charge under the callee uuid (C1, C6).

The opt-out key works from the answer until the bridge: the leg is originated with
``playback_terminators=<optout_key>``, so the key stops the disclosure or the acknowledgement
where it is pressed (fs-transcripts 08c), and the questions (play_and_get_digits) accept it
(08b). Any other key pressed during a plain prompt is consumed by FreeSWITCH (08a): a 1 or 2
pressed during the disclosure is not an answer to a question not asked yet.

Everything this leg knows about the call comes from its originate variables (``fsapp_parent``,
``fsapp_tenant``, ``fsapp_callee``, ``fsapp_record``, ``fsapp_emergency``) and the database.
It tells the agent leg how the prompts ended by setting ``fsapp_callee_outcome`` on the agent
channel and, when there is no bridge, breaking the agent's ringback (``uuid_break``).
"""
from __future__ import annotations

import logging

from domain.clock import utcnow

from fs_app import prompts
from fs_app.channel import Channel, ChannelGone, ChannelTimeout, CommandError
from fs_app.charging import ChargingSession
from fs_app.logs import call_context
from fs_app.metering import Meter

from .common import OUTCOME_VAR, DisclosureUnavailable, fs_time, prompt_file, quietly
from .limits import DurationLimit
from .steps.announce import announce_until_key
from .steps.base import Leg
from .steps.consent import ask_consent, note_consent
from .steps.optout import confirm_optout, offer_optout, record_optout
from .steps.record import start_recording
from .steps.settle import settle

log = logging.getLogger("fsapp.flows.callee")


def run(channel: Channel, settings, meter: Meter) -> None:
    CalleeCall(channel, settings, meter).run()


class CalleeCall(Leg):
    def __init__(self, channel: Channel, settings, meter: Meter):
        callee = channel.variable("fsapp_callee") or channel.get("Caller-Destination-Number") or ""
        super().__init__(channel, settings, lang=prompts.language_for_number(callee),
                         tenant_code=channel.variable("fsapp_tenant") or "")
        self.meter = meter
        self.agent_uuid = channel.variable("fsapp_parent") or ""
        self.callee = callee
        self.record_on = channel.variable("fsapp_record") == "1"
        self.emergency = channel.variable("fsapp_emergency") == "1"
        self.result: str | None = None  # opted_out | abandoned | failed; None: metering decides
        self.bridged = False

    def run(self) -> None:
        with call_context(call_uuid=self.uuid, tenant=self.tenant_code):
            answered_at = fs_time(self.channel.get("Caller-Channel-Answered-Time")) or utcnow()
            limit = DurationLimit(self.channel, self.settings, uuid=self.uuid, lang=self.lang,
                                  tenant_code=self.tenant_code)
            session = ChargingSession(self.meter, agent_uuid=self.agent_uuid, callee_uuid=self.uuid, limit=limit)
            try:
                session.initiate(answered_at)
                self._connect()
                if self.bridged:
                    session.keep_extending()
                    self._wait_hangup()
            except ChannelGone as gone:
                if not self.bridged and self.result is None:
                    log.info("callee leg gone before the bridge (%s)", gone.cause)
                    self.result = "abandoned"
                    self._tell_agent("abandoned")
            except DisclosureUnavailable as exc:
                log.error("%s: not connecting the callee without the disclosure (B1)", exc)
                self.result = "failed"
                self._tell_agent("failed")
                quietly(self.channel.hangup, "NORMAL_TEMPORARY_FAILURE")
            finally:
                session.stop()
                self._settle(session, answered_at)

    # -- before the bridge ---------------------------------------------------------------------

    def _connect(self) -> None:
        channel = self.channel
        try:
            channel.uuid_getvar(self.agent_uuid, "uuid")  # -ERR No such channel! when it is gone
        except CommandError:
            log.info("agent leg %s is gone: ending the callee leg", self.agent_uuid)
            self.result = "abandoned"
            channel.hangup("ORIGINATOR_CANCEL")
            return
        digit = None
        optout, agree = self.settings.optout_key, self.settings.consent_agree_key
        if self.emergency:
            log.info("emergency call: no prompts, bridging at once (A5)")
        else:
            if announce_until_key(self, "disclosure") == optout:
                self._note_answer(optout)
                self._opt_out("disclosure")
                return
            if self.record_on:
                digit = ask_consent(self, "consent_request", "consent_repeat", also=optout)
                self._note_answer(digit)
            else:
                digit = offer_optout(self)
            if digit == optout:
                self._opt_out(self.played[-1])
                return
            ack = "connecting" if (digit == agree or not self.record_on) else "consent_declined"
            if announce_until_key(self, ack) == optout:
                self._opt_out(ack)
                return
        if digit == agree:
            self.evidence["recording_path"] = start_recording(self.channel, self.settings, self.tenant_code, self.uuid)
        self._bridge()

    def _note_answer(self, digit: str | None) -> None:
        """Consent evidence on a recorded campaign (the call is the record's callee uuid)."""
        if self.record_on:
            note_consent(self, digit)

    def _opt_out(self, during: str) -> None:
        """B3: do-not-call and consent revoked at once, the agent leg told, the confirmation,
        the end."""
        log.info("callee pressed the opt-out key during %s", during)
        record_optout(self, self.callee)
        self.result = "opted_out"
        self._tell_agent("opted_out")
        confirm_optout(self)

    def _bridge(self) -> None:
        channel = self.channel
        if not quietly(channel.uuid_setvar, self.agent_uuid, OUTCOME_VAR, "bridged"):
            log.info("agent leg %s gone before the bridge", self.agent_uuid)
            self.result = "abandoned"
            channel.hangup("ORIGINATOR_CANCEL")
            return
        try:
            channel.uuid_bridge(self.agent_uuid)
        except CommandError as exc:
            log.info("bridge failed: %s", exc)
            self.result = "abandoned"
            channel.hangup("ORIGINATOR_CANCEL")
            return
        self.bridged = True
        notice = "agent_recorded" if self.evidence.get("recording_path") else "agent_not_recorded"
        self.played.append(notice)
        quietly(channel.uuid_broadcast, self.agent_uuid,
                prompt_file(self.settings, notice, prompts.AGENT_LANGUAGE), leg="aleg")
        log.info("bridged with agent leg %s (%s)", self.agent_uuid, notice)

    def _tell_agent(self, outcome: str) -> None:
        """The agent leg waits in its ringback: say why it ends, then stop the ringback."""
        if quietly(self.channel.uuid_setvar, self.agent_uuid, OUTCOME_VAR, outcome):
            quietly(self.channel.uuid_break, self.agent_uuid)

    # -- the end -------------------------------------------------------------------------------

    def _wait_hangup(self) -> None:
        while True:
            try:
                self.channel.wait_hangup_complete()
                return
            except ChannelTimeout:
                continue

    def _settle(self, session: ChargingSession, answered_at) -> None:
        """Record the outcome and charge the call once, from FreeSWITCH's own times."""
        changes = dict(prompts=self.played, **self.evidence)
        if self.result is not None:
            changes["result"] = self.result
        settle(self, session, answered_at, changes, direction="outbound", dialled=self.callee)
