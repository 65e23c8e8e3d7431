"""The agent leg: an agent's softphone call arriving on the socket (ARCHITECTURE "The outbound
call, end to end", steps 1-3 and 5).

identify the seat (A4) -> admit -> blocked: pre_answer, category prompt, fitting cause (B6)
                               -> allowed: ``bgapi originate`` the callee leg to the socket
                                  ('&socket(...)' quoted) and, in the same write, ``pre_answer`` and
                                  the ringback (B4) in early media -> wait while the callee leg (any
                                  process of the cluster) prompts and bridges; the bridge answers
                                  this leg (fs-transcripts 07) -> heartbeat the reservation until
                                  the agent leg ends -> release. Any other ending: a short prompt in
                                  early media, then a hangup cause the agent's phone gets as the
                                  SIP final response (486, 480, 603, ..., 07b).

Nothing comes before the originate that the originate does not need: the INVITE to the callee
leaves right after admission, and the agent's early media is set up while it is on its way.

The callee leg tells this leg how its prompts ended through one channel variable on this
channel (``fsapp_callee_outcome``) and FreeSWITCH itself: ``uuid_bridge`` takes the channel away
from the ringback (PLAYBACK ERROR, fs-transcripts 02b) and ``uuid_break`` stops it (FILE PLAYED)
when there is no bridge. Nothing passes through this process's memory.
"""
from __future__ import annotations

import logging
import threading
import time

from models.calls import billing
from domain.clock import utcnow

from fs_app import metrics, prompts
from fs_app.admission import Admission, CallRequest
from fs_app.charging import ChargingSession, authorize
from fs_app.channel import Channel, ChannelGone, ChannelTimeout, CommandError, OriginateFailed
from fs_app.logs import bind_call, call_context
from fs_app.metering import Meter
from fs_app.policy import seat_identity

from .common import OUTCOME_VAR, RINGBACK, end_with_prompt, quietly, socket_address, update_record

log = logging.getLogger("fsapp.flows.agent")

#: originate failures for which no INVITE left FreeSWITCH: the attempt does not count (A9).
PRE_INVITE_CAUSES = frozenset({
    "CHAN_NOT_IMPLEMENTED", "INVALID_GATEWAY", "GATEWAY_DOWN", "INVALID_PROFILE", "MANDATORY_IE_MISSING",
    "INVALID_NUMBER_FORMAT", "SYSTEM_SHUTDOWN",
})
#: an unanswered callee (originate -ERR, by billing.final_result) -> (agent's prompt, the agent
#: leg's hangup cause). The agent leg is only pre-answered, so the cause reaches the agent's phone
#: as the SIP final response (mod_sofia's cause mapping; 486 for USER_BUSY in 07b).
FAILURE_ENDINGS = {
    "busy": ("callee_busy", "USER_BUSY"),  # 486 Busy Here
    "no_answer": ("callee_no_answer", "NO_ANSWER"),  # 480 Temporarily Unavailable (also NO_USER_RESPONSE)
    "rejected": ("callee_rejected", "CALL_REJECTED"),  # 603 Decline
}
#: other originate causes the agent's phone is told as they are (mod_sofia: 404, 484, 503, ...);
#: anything else ends with NORMAL_TEMPORARY_FAILURE (503)
PASSED_ON_CAUSES = frozenset({
    "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "NUMBER_CHANGED", "INVALID_NUMBER_FORMAT",
    "NORMAL_TEMPORARY_FAILURE", "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "GATEWAY_DOWN",
    "DESTINATION_OUT_OF_ORDER", "RECOVERY_ON_TIMER_EXPIRE", "INCOMPATIBLE_DESTINATION",
    "OUTGOING_CALL_BARRED", "SUBSCRIBER_ABSENT",
})
#: how the agent leg ends after the callee leg ended the call without a bridge
OUTCOME_ENDINGS = {
    "opted_out": ("callee_opted_out", "CALL_REJECTED"),  # 603
    "abandoned": ("callee_rejected", "CALL_REJECTED"),  # the callee hung up during the prompts: declined
    "failed": ("callee_failed", "NORMAL_TEMPORARY_FAILURE"),  # 503
}


def failure_ending(cause: str) -> tuple[str, str, str]:
    """(result, agent's prompt, agent leg's hangup cause) for an originate that failed with ``cause``."""
    result = billing.final_result(False, cause)
    if result in FAILURE_ENDINGS:
        return (result, *FAILURE_ENDINGS[result])
    return result, "callee_failed", cause if cause in PASSED_ON_CAUSES else "NORMAL_TEMPORARY_FAILURE"


def call_request(channel: Channel, settings) -> CallRequest:
    """The admission request from the agent leg's channel data (A4: authenticated identity)."""
    address, authenticated = seat_identity(
        auth_user=channel.variable("sip_auth_username") or "", auth_realm=channel.variable("sip_auth_realm") or "",
        from_user=channel.variable("sip_from_user") or "", from_host=channel.variable("sip_from_host") or "",
        trust_from_header=settings.trust_sip_from_header)
    return CallRequest(call_uuid=channel.uuid, dialled=channel.get("Caller-Destination-Number") or "",
                       seat_address=address, authenticated=authenticated,
                       campaign_code=campaign_code(channel))


def campaign_code(channel: Channel) -> str:
    """The campaign the softphone or CRM chose: its SIP header X-Campaign, straight from the
    channel data (the dialplan sets nothing); ``fsapp_campaign`` where an older dialplan set it."""
    return channel.variable("sip_h_X-Campaign") or channel.variable("fsapp_campaign") or ""


def run(channel: Channel, settings, meter: Meter) -> None:
    with call_context(call_uuid=channel.uuid):
        request = call_request(channel, settings)
        started = time.perf_counter()
        admission = authorize(request, settings, hung_up=lambda: channel.is_gone)
        metrics.observe_admission("allowed" if admission.allowed else "blocked", admission.codes,
                                  time.perf_counter() - started)
        tenant_code = (admission.decision.facts.get("tenant") or {}).get("code") or ""
        bind_call(tenant=tenant_code, seat=request.seat_address)
        if not admission.allowed:
            refuse(channel, settings, admission)
            return
        log.info("admitted: callee leg %s, caller id %s, max %s s", admission.callee_uuid, admission.caller_id,
                 admission.max_duration_s)
        AgentCall(channel, settings, meter, admission, tenant_code).run()


def refuse(channel: Channel, settings, admission: Admission) -> None:
    """B6: the agent hears the category of the reason, then the channel ends with its cause.
    pre_answer (early media) rather than answer, so the cause reaches the softphone as the SIP
    final response."""
    name = prompts.blocked_prompt_for_reasons(admission.codes)
    cause = prompts.hangup_cause_for_reasons(admission.codes)
    log.info("blocked %s: %s, hanging up with %s", ",".join(admission.codes), name, cause)
    try:  # the call record already names this prompt and cause (admission wrote them)
        channel.execute("pre_answer")
        end_with_prompt(channel, settings, name, cause)
    finally:
        quietly(channel.hangup, cause)  # nothing to do once the channel is gone


class AgentCall:
    """One admitted outbound call, seen from the agent leg."""

    def __init__(self, channel: Channel, settings, meter: Meter, admission: Admission, tenant_code: str):
        self.channel = channel
        self.settings = settings
        self.meter = meter
        self.admission = admission
        self.tenant_code = tenant_code
        self.callee_uuid = admission.callee_uuid
        self.originated = False
        self.callee_answered = False  # the callee leg reached a flow: it charges and releases
        self.lapsed = threading.Event()
        self.session = ChargingSession(meter, agent_uuid=channel.uuid, callee_uuid=self.callee_uuid)

    def run(self) -> None:
        self.session.keep_alive(self.settings, self._reservation_lapsed)
        try:
            self._call()
        finally:
            # the charge releases the reservation (ours, or the callee leg's): nothing left then
            self.session.end(originated=self.originated, settled_elsewhere=self.callee_answered,
                             wait_s=self.settings.esl_command_timeout_s)

    # -- the call, top to bottom ---------------------------------------------------------------

    def _call(self) -> None:
        outcome = self._ring_callee()
        if outcome is None:
            return
        channel = self.channel
        if outcome == "bridged":
            log.info("bridged with %s", self.callee_uuid)
            while True:  # the ticker heartbeats meanwhile; calls may last hours
                try:
                    channel.wait_hangup()
                    return
                except ChannelTimeout:
                    continue
        prompt, cause = OUTCOME_ENDINGS.get(outcome, OUTCOME_ENDINGS["failed"])
        log.info("callee leg ended without a bridge (%s): %s, hanging up with %s", outcome, prompt, cause)
        end_with_prompt(channel, self.settings, prompt, cause)

    def _ring_callee(self) -> str | None:
        """Originate the callee leg, with early media and ringback for the agent in the same
        write, and wait until the callee leg bridged us or ended (its outcome), or None when the
        originate failed (handled here). A helper of its own so that the ringback's completion
        event (all channel variables) is not kept for the call."""
        channel = self.channel
        try:
            # one write, one round trip: the INVITE leaves first; pre_answer (183 to the agent's
            # phone) and the ringback follow on the channel's next ticks (fs-transcripts 07)
            job = channel.originate_async(
                self._dial_string(), socket_address=socket_address(self.settings, callee=True),
                variables=self._variables(), then=(("pre_answer", None), ("playback", RINGBACK)))
        except ChannelGone:
            self._agent_gone_while_ringing()
            raise
        except (ChannelTimeout, CommandError) as exc:  # whether FreeSWITCH took it is unknown
            self._originate_unknown(exc, None)
            return None
        timeout = self.settings.originate_timeout_s + self.settings.esl_command_timeout_s
        return self._follow_originate(lambda: job.leg_uuid(timeout=timeout), ringback=job.executions[1])

    def _follow_originate(self, outcome, ringback) -> str | None:
        """``outcome()`` returns once the callee leg answered (or raises): then wait for the
        callee leg's outcome; a failed originate is handled here (None)."""
        try:
            outcome()
            self.originated = True
        except OriginateFailed as failed:
            self.originated = failed.cause not in PRE_INVITE_CAUSES
            self._callee_failed(ringback, failed.cause)
            return None
        except ChannelGone:
            self._agent_gone_while_ringing()
            raise
        except (ChannelTimeout, CommandError) as exc:
            self._originate_unknown(exc, ringback)
            return None

        self.callee_answered = True
        try:
            return self._wait_for_callee_leg(ringback)
        except ChannelGone:
            self._agent_gone_while_ringing()
            raise

    def _originate_unknown(self, exc: Exception, ringback) -> None:
        """The originate's outcome is unknown: make sure no callee leg lives on without us."""
        metrics.esl_error("timeout" if isinstance(exc, ChannelTimeout) else "command_failed")
        log.error("originate failed: %s", exc)
        self.originated = True
        quietly(self.channel.uuid_kill, self.callee_uuid, "NORMAL_TEMPORARY_FAILURE")
        self._callee_failed(ringback, "NORMAL_TEMPORARY_FAILURE")

    def _wait_for_callee_leg(self, ringback) -> str:
        """Wait until the ringback ends, i.e. until the callee leg bridged us (the bridge takes the
        channel away from the playback) or broke it with an outcome; meanwhile check every
        interval that the callee leg still exists (its process may have died)."""
        while True:
            try:
                ringback.wait(timeout=self.settings.hold_extend_interval_s)
                break
            except ChannelTimeout:
                pass
            try:
                self.channel.uuid_getvar(self.callee_uuid, "fsapp_role")
            except CommandError:
                log.warning("callee leg %s is gone and nobody told us", self.callee_uuid)
                quietly(self.channel.uuid_break)
                return self._outcome() or "abandoned"
        return self._outcome() or ("bridged" if self.channel.bridged_with else "failed")

    def _outcome(self) -> str | None:
        try:
            return self.channel.getvar(OUTCOME_VAR)
        except ChannelTimeout:
            return None

    def _callee_failed(self, ringback, cause: str) -> None:
        """Settle the unanswered call, then tell the agent in early media and end the leg with
        the cause its phone gets as the SIP final response."""
        result, prompt, agent_cause = failure_ending(cause)
        log.info("callee leg failed: %s (%s); hanging up the agent leg with %s", cause, result, agent_cause)
        # the prompt is recorded with the outcome, before it plays, as for a refused call: one
        # write per failed call instead of two
        changes = dict(result=result, hangup_cause=cause[:64], prompts=[prompt])
        try:  # settles the record (unanswered, free), writes its outcome and releases in one transaction;
            # a callee leg that was never created is not an attempt (A9): run's end releases and uncounts it
            self.session.terminate(answered_at=None, ended_at=utcnow(), hangup_cause=cause, record_changes=changes,
                                   release=self.originated)
        except Exception:  # noqa: BLE001 - nothing to charge; the CDR job settles it later
            metrics.db_error("charge")
            log.exception("could not settle the failed call")
            update_record(callee_uuid=self.callee_uuid, **changes)
        if ringback is None:  # the originate was not taken; the early media may or may not have started
            quietly(self.channel.uuid_break)
            self.channel.execute("pre_answer")
        elif not ringback.wait_started(self.settings.esl_command_timeout_s):
            # a fast failure can come before the ringback started (it waits for pre_answer's
            # tick); uuid_break does not reach a queued application, which would then play on
            log.warning("ringback did not start within %ss", self.settings.esl_command_timeout_s)
        # the ringback is stopped in the same write
        end_with_prompt(self.channel, self.settings, prompt, agent_cause, break_media=ringback is not None)

    def _agent_gone_while_ringing(self) -> None:
        """The agent hung up while the callee rang or was being prompted: cancel the callee leg
        (FreeSWITCH does not clear a leg that is not bridged yet). api works on the lingering socket."""
        log.info("agent hung up before the bridge; cancelling callee leg %s", self.callee_uuid)
        self.originated = True
        quietly(self.channel.uuid_kill, self.callee_uuid, "ORIGINATOR_CANCEL")

    # -- pieces --------------------------------------------------------------------------------

    def _dial_string(self) -> str:
        return self.settings.dial_string.format(gateway=self.settings.gateway, number=self.admission.decision.callee)

    def _variables(self) -> dict[str, str]:
        decision = self.admission.decision
        variables = {
            "fsapp_parent": self.channel.uuid,
            "fsapp_role": "callee",
            "fsapp_tenant": self.tenant_code,
            "fsapp_callee": decision.callee,
            "fsapp_record": "1" if self.admission.record_allowed else "0",
            "fsapp_emergency": "1" if decision.emergency else "0",
            "origination_uuid": self.callee_uuid,
            "originate_timeout": str(self.settings.originate_timeout_s),
            # the opt-out key ends any prompt the callee hears before the bridge, the disclosure
            # too (mod_dptools playback stops on a playback_terminators key, fs-transcripts 08c;
            # any other key is consumed, 08a)
            "playback_terminators": self.settings.optout_key,
        }
        if self.admission.caller_id:
            variables["origination_caller_id_number"] = self.admission.caller_id
        return variables

    def _reservation_lapsed(self) -> None:
        """The heartbeat found the reservation lapsed: its slots may have been given to another
        call, so both legs end (fail closed)."""
        self.lapsed.set()
        if self.originated or self.callee_uuid:
            quietly(self.channel.uuid_kill, self.callee_uuid, "ALLOTTED_TIMEOUT")
        quietly(self.channel.hangup, "ALLOTTED_TIMEOUT")
