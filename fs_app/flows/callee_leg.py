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
import re
from pathlib import Path

from models.clock import utcnow
from models.db import unit_of_work
from models.listing import add_dnc_entry, revoke_consent
from models.tenancy import Tenant

from fs_app import metrics, prompts
from fs_app.channel import Channel, ChannelGone, ChannelTimeout, CommandError
from fs_app.charging import ChargingSession
from fs_app.logs import call_context
from fs_app.metering import Meter

from .common import OUTCOME_VAR, DisclosureUnavailable, fs_time, play, prompt_file, quietly, update_record
from .limits import DurationLimit
from .recording import recording_path

log = logging.getLogger("fsapp.flows.callee")

#: seconds the opt-out offer waits for the key on a call that is not recorded (B3)
OPTOUT_WINDOW_S = 3


def run(channel: Channel, settings, meter: Meter) -> None:
    CalleeCall(channel, settings, meter).run()


class CalleeCall:
    def __init__(self, channel: Channel, settings, meter: Meter):
        self.channel = channel
        self.settings = settings
        self.meter = meter
        self.uuid = channel.uuid
        self.agent_uuid = channel.variable("fsapp_parent") or ""
        self.tenant_code = channel.variable("fsapp_tenant") or ""
        self.callee = channel.variable("fsapp_callee") or channel.get("Caller-Destination-Number") or ""
        self.record_on = channel.variable("fsapp_record") == "1"
        self.emergency = channel.variable("fsapp_emergency") == "1"
        self.lang = prompts.language_for_number(self.callee)
        self.played: list[str] = []
        self.result: str | None = None  # opted_out | abandoned | failed; None: metering decides
        self.bridged = False
        self.evidence: dict = {}

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
            if self._prompt("disclosure") == optout:
                self._note_answer(optout)
                self._opt_out("disclosure")
                return
            if self.record_on:
                digit = self._ask("consent_request", "consent_repeat", agree + self.settings.consent_decline_key + optout,
                                  self.settings.recording_consent_timeout_s, self.settings.recording_consent_repeats)
                self._note_answer(digit)
            else:
                digit = self._ask("optout_offer", None, optout,
                                  min(OPTOUT_WINDOW_S, self.settings.recording_consent_timeout_s), 0)
            if digit == optout:
                self._opt_out(self.played[-1])
                return
            ack = "connecting" if (digit == agree or not self.record_on) else "consent_declined"
            if self._prompt(ack) == optout:
                self._opt_out(ack)
                return
        if digit == agree:
            self._start_recording()
        self._bridge()

    def _note_answer(self, digit: str | None) -> None:
        """Consent evidence on a recorded campaign: the key (or "" for silence) and FreeSWITCH's
        time of its DTMF event (silence: now); the call is the record's callee uuid."""
        if self.record_on:
            pressed = fs_time(self.channel.key_pressed_at(digit)) if digit else None
            self.evidence = {"recording_digit": digit or "", "recording_consent_at": pressed or utcnow()}

    def _prompt(self, name: str) -> str | None:
        """Play a prompt before the bridge; the opt-out key cuts it short: returns that key."""
        path = prompt_file(self.settings, name, self.lang, self.tenant_code)
        self.played.append(name)
        return self.channel.playback_until_key(path)

    def _ask(self, first: str, repeat: str | None, valid: str, timeout_s: int, repeats: int) -> str | None:
        """One key among ``valid`` while the prompt plays and ``timeout_s`` after it; the
        ``repeat`` prompt up to ``repeats`` times; None when no valid key came (silence)."""
        regexp = "^[" + "".join(re.escape(c) for c in valid) + "]$"
        for attempt in range(1 + repeats):
            name = first if attempt == 0 or repeat is None else repeat
            path = prompt_file(self.settings, name, self.lang, self.tenant_code)
            self.played.append(name)
            digit = self.channel.play_and_get_digits(
                path, min_digits=1, max_digits=1, tries=1, digit_timeout_ms=timeout_s * 1000,
                terminators="none", regexp=regexp, var_name="fsapp_digit")
            if digit and digit in valid:
                log.info("callee pressed %s at %s", digit, name)
                return digit
        log.info("no key: counts as decline")
        return None

    def _opt_out(self, during: str) -> None:
        """B3: the number goes on the tenant's do-not-call list at once (and the platform's when
        configured), consent is revoked, the callee hears the confirmation, the call ends."""
        log.info("callee pressed the opt-out key during %s", during)
        with unit_of_work():
            tenant = Tenant.get(Tenant.code == self.tenant_code)
            add_dnc_entry(self.callee, tenant=tenant, reason="opt-out key pressed during the call",
                          source="optout", source_call=self.uuid, actor="callee")
            if self.settings.optout_to_platform_dnc:
                add_dnc_entry(self.callee, tenant=None, reason="opt-out key pressed during the call",
                              source="optout", source_call=self.uuid, actor="callee")
            revoke_consent(tenant, self.callee, reason="opt-out keypress", actor="callee")
        log.info("callee opted out: %s on the do-not-call list, consent revoked", self.callee)
        self.result = "opted_out"
        self._tell_agent("opted_out")
        play(self.channel, self.settings, "optout_confirm", self.lang, self.played, self.tenant_code)
        self.channel.hangup("NORMAL_CLEARING")

    def _start_recording(self) -> None:
        path = recording_path(self.settings, self.tenant_code, self.uuid, utcnow())
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)  # shared with FreeSWITCH (compose)
        except OSError:
            pass  # FreeSWITCH's own path on another host: record_session creates it there
        self.channel.record_session(path)
        self.evidence["recording_path"] = path
        log.info("recording to %s", path)

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
        quietly(self.channel.wait_hangup_complete, timeout=self.settings.esl_command_timeout_s)
        event = self.channel.hangup_event
        if event is not None:
            answered_at = fs_time(event.get("Caller-Channel-Answered-Time")) or answered_at
            ended_at = fs_time(event.get("Caller-Channel-Hangup-Time")) or utcnow()
        else:
            ended_at = utcnow()
        cause = self.channel.hangup_cause or ""
        changes = dict(prompts=self.played, **self.evidence)
        if self.result is not None:
            changes["result"] = self.result
        try:  # the record's outcome is written in the charge's transaction (one write, not two)
            # the money is posted: the reservation ends in the same transaction
            charge = session.terminate(answered_at=answered_at, ended_at=ended_at, hangup_cause=cause,
                                       direction="outbound", dialled=self.callee, record_changes=changes)
        except Exception:  # noqa: BLE001 - the CDR reconciliation charges it later (principle 5)
            metrics.db_error("charge")
            log.exception("could not charge the call; CDR reconciliation will")
            update_record(callee_uuid=self.uuid, **changes)  # the outcome is evidence: keep it anyway
            return
        if charge.charged_now:
            metrics.charge(charge.charge_fen)
        log.info("call ended %s: %s s billed, %s fen", cause, charge.billsec, charge.charge_fen)
