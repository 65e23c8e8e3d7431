"""Admission of outbound calls: the one entry point of the live call flow and of `fsapp check`.

    from fs_app.admission import CallRequest, admit, release, heartbeat, evaluate

    request = CallRequest(call_uuid=agent_uuid, dialled=destination, seat_address="1001@acme.example",
                          authenticated=True, campaign_code=channel_var_or_empty)
    admission = admit(request, utcnow(), settings, node=settings.node_name)
    if not admission.allowed:
        ...  # play the category prompt of admission.codes[0] (B6) and hang up; the record is written
    originate with origination_uuid=admission.callee_uuid,
              origination_caller_id_number=admission.caller_id (None only for an emergency call of a
              tenant without numbers: use the trunk's default), limit talk to admission.max_duration_s
    every settings.hold_extend_interval_s while the call lives: heartbeat(call_uuid, utcnow(), settings)
        -> False means the reservation lapsed: end the call (its slots may have been given away)
    at the end: release(call_uuid, utcnow(), originated=<was the callee leg created?>)

``evaluate(request, now, settings) -> Decision``: facts + decide, nothing locked or written.

``admit(request, now, settings, node="") -> Admission``: in one write transaction, lock the tenant
row (FOR UPDATE on PostgreSQL, the IMMEDIATE transaction on SQLite) and the callee (advisory lock on
PostgreSQL), load the facts under those locks, decide, and if allowed take the reservation (seat
slot, tenant concurrency, number slot, frequency attempt, balance hold); then write the call record
(CallRecord, keyed by ``agent_uuid = request.call_uuid``) with every reason code, the facts summary
and ``decide_ms``; a blocked call's record also names the category prompt the agent will hear and
the hangup cause (B6), so refusing a call takes one write. The decision made under the locks is the
re-check: whatever another process reserved before is counted. Blocked calls are recorded too.

Deadline (issue 14): ``admit`` decides by ``deadline`` (the socket connect plus
``admission_deadline_s``, ``fs_app.deadlines``) and never raises. Whatever fails first (the
connect, an empty pool, a lock, a frozen server, the deadline itself) refuses the call with
``POLICY_UNAVAILABLE``; the refusal is recorded at once if the deadline leaves time, else by the
deferred writer (``fs_app.deferred_records``) once the database allows. An allowed admission that
ends after its deadline, or after its channel hung up (``revoke``), becomes the same refusal: its
hold and counted attempt are released and no "allowed" record stays.

Frequency attempts (A9) are counted at reservation, so concurrent admissions can never exceed a
cap; ``release(..., originated=False)`` uncounts a call whose callee leg was never created.

Money: ``Admission.hold_fen`` is held at admission (the minimum charge: first increment plus the
connect fee) on the ``Hold`` row; the available balance of the tenant is balance minus live holds.
``max_duration_s`` is what the whole available balance buys at admission, in whole increments
(None: not limited by money). The call's ``fs_app.charging.ChargingSession`` grows the hold as the
call lasts and cuts the call when it cannot (B5); other calls of the tenant share the balance.

Every entry point runs in ``models.db.unit_of_work()``: under gevent a live call holds a database
connection (of the calls pool) only while admission talks to the database.

Emergency short codes (A5) are admitted whatever the commercial state (only an identified seat is
required), hold 0 fen, count no attempt and have ``billable=False``; their caller ID is the seat's
pinned number or the tenant's least used lease, if any.
"""
from __future__ import annotations

import functools
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from models import sql_statements as sql
from models.calls import reservations
from models.calls.tables import CallRecord
from models.db import DatabaseDeadline, db_deadline, is_postgres, unit_of_work, write_transaction

from fs_app.deferred_records import DEFERRED
from fs_app.policy import CallRequest, Decision, classify_callee, decide, platform_limits
from fs_app.policy.callee import Callee
from fs_app.policy.loader import load_facts
from fs_app.policy.reasons import POLICY_UNAVAILABLE, Reason
from fs_app.prompts.catalogue import blocked_prompt_for_reasons, hangup_cause_for_reasons

__all__ = ["Admission", "CallRequest", "Decision", "admit", "evaluate", "heartbeat", "release", "revoke"]

log = logging.getLogger("fsapp.admission")


@dataclass(frozen=True)
class Admission:
    call_uuid: str
    decision: Decision
    callee_uuid: str | None = None  # origination_uuid for the callee leg; set when allowed
    record_id: int | None = None  # the CallRecord written for this attempt
    hold_fen: int = 0  # money held now (Hold.amount_fen)
    hold_expires_at: datetime | None = None  # heartbeat before this (naive UTC)
    decide_ms: float = 0.0

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def codes(self) -> tuple[str, ...]:
        return self.decision.codes

    @property
    def caller_id(self) -> str | None:
        return self.decision.caller_id

    @property
    def max_duration_s(self) -> int | None:
        return self.decision.max_duration_s

    @property
    def record_allowed(self) -> bool:
        return self.decision.record_allowed

    @property
    def billable(self) -> bool:
        return self.decision.billable


_limits_for: tuple = (None, None)  # (settings, Limits): settings objects are immutable


def _platform_limits(settings):
    """``platform_limits(settings)``, built once per settings object instead of once per call."""
    global _limits_for
    cached_settings, limits = _limits_for
    if cached_settings is not settings:
        limits = platform_limits(settings)
        _limits_for = (settings, limits)
    return limits


def _callee(request: CallRequest, settings) -> Callee:
    return classify_callee(request.dialled, settings.default_region, tuple(settings.emergency_numbers))


@unit_of_work()
def evaluate(request: CallRequest, now: datetime, settings) -> Decision:
    """The decision a call would get now; reads only (used by `fsapp check`)."""
    callee = _callee(request, settings)
    try:
        facts = load_facts(request, callee, _platform_limits(settings), now, lock=False)
        return decide(request, facts, now)
    except Exception as exc:  # noqa: BLE001 - fail closed, whatever went wrong
        log.exception("policy evaluation failed for %s", request.call_uuid)
        return _unavailable(callee, exc)


def admit(request: CallRequest, now: datetime, settings, node: str = "", *,
          timeout_s: float | None = None, deadline: float | None = None) -> Admission:
    """Decide and reserve by ``deadline`` (time.monotonic(); default: ``timeout_s`` or
    ``settings.admission_deadline_s`` from now). Never raises: whatever fails (the connect, an
    empty pool, a lock, a frozen server, the deadline) refuses the call with POLICY_UNAVAILABLE."""
    if deadline is None:
        deadline = time.monotonic() + (settings.admission_deadline_s if timeout_s is None else timeout_s)
    started = time.perf_counter()
    callee = _callee(request, settings)
    try:
        with db_deadline(deadline), unit_of_work():
            admission = _admit(request, callee, now, settings, node, started, deadline)
    except Exception as exc:  # noqa: BLE001 - fail closed (ARCHITECTURE principle 5)
        if isinstance(exc, DatabaseDeadline):
            log.error("admission of %s refused: %s", request.call_uuid, exc)
        else:
            log.exception("admission failed for %s; refusing the call", request.call_uuid)
        return _refuse_unavailable(request, callee, now, node, started, deadline, exc)
    if admission.allowed and time.monotonic() > deadline:
        # decided too late: the call is refused, so its reservation must not outlive the answer
        return revoke(admission, request, now, node, f"admission finished after its deadline "
                      f"({settings.admission_deadline_s:g} s)")
    return admission


def _admit(request: CallRequest, callee: Callee, now: datetime, settings, node: str, started: float,
           deadline: float) -> Admission:
    with write_transaction():
        _set_timeouts(deadline - time.monotonic())
        facts = load_facts(request, callee, _platform_limits(settings), now, lock=True)
        decision = decide(request, facts, now)
        decide_ms = round((time.perf_counter() - started) * 1000, 3)
        hold = callee_uuid = None
        if decision.allowed:
            callee_uuid = str(uuid.uuid4())
            hold = reservations.take(
                call_uuid=request.call_uuid, tenant_id=decision.tenant_id, seat_id=decision.seat_id,
                lease_id=decision.caller_lease_id, callee_number=decision.callee, amount_fen=decision.hold_fen,
                now=now, lease_s=settings.hold_lease_s, node=node, count_attempt=not decision.emergency)
        record_id = _record(request, decision, now, node, decide_ms, callee_uuid)
    return Admission(request.call_uuid, decision, callee_uuid, record_id,
                     hold.amount_fen if hold else 0, hold.expires_at if hold else None, decide_ms)


def _refuse_unavailable(request: CallRequest, callee: Callee, now: datetime, node: str, started: float,
                        deadline: float, exc: BaseException) -> Admission:
    """POLICY_UNAVAILABLE: recorded now if the deadline leaves time, else by the deferred writer."""
    decision = _unavailable(callee, exc)
    decide_ms = round((time.perf_counter() - started) * 1000, 3)
    settle = functools.partial(_settle_refusal, request, decision, now, node, decide_ms)
    record_id = None
    if deadline - time.monotonic() > 0:
        try:
            with db_deadline(deadline):
                record_id = settle()
        except Exception as record_exc:  # noqa: BLE001 - the database is what failed: later
            log.warning("refusal of %s not recorded yet (%s); deferred", request.call_uuid, record_exc)
            DEFERRED.add(f"refusal of {request.call_uuid}", settle)
    else:
        DEFERRED.add(f"refusal of {request.call_uuid}", settle)
    return Admission(request.call_uuid, decision, None, record_id, 0, None, decide_ms)


def revoke(admission: Admission, request: CallRequest, now: datetime, node: str, why: str) -> Admission:
    """Refuse an admitted call that can no longer go ahead (decided after its deadline, or its
    channel hung up meanwhile): POLICY_UNAVAILABLE, the hold and the counted attempt released and
    the record turned into a refusal by the deferred writer (never blocks the call)."""
    log.warning("call %s: %s; refusing it", request.call_uuid, why)
    callee = Callee(dialled=request.dialled, e164=admission.decision.callee, emergency=admission.decision.emergency)
    decision = _unavailable(callee, RuntimeError(why))
    DEFERRED.add(f"revoked admission of {request.call_uuid}",
                 functools.partial(_settle_refusal, request, decision, now, node, admission.decide_ms))
    return Admission(request.call_uuid, decision, None, admission.record_id, 0, None, admission.decide_ms)


@unit_of_work()
def _settle_refusal(request: CallRequest, decision: Decision, now: datetime, node: str, decide_ms: float) -> int:
    """One transaction: release whatever the call reserved (a late commit may have taken it) and
    leave exactly one record for it, blocked. Idempotent: safe to retry."""
    with write_transaction():
        reservations.release_locked(request.call_uuid, now, originated=False)
        existing = (CallRecord.select(CallRecord.id)
                    .where((CallRecord.agent_uuid == request.call_uuid) & (CallRecord.direction == "outbound"))
                    .order_by(CallRecord.id).first())
        if existing is None:
            return _record(request, decision, now, node, decide_ms, None)
        facts = dict(decision.facts, billable=decision.billable, record_allowed=False, hold_fen=0)
        CallRecord.update(decision="blocked", result="blocked", reasons=list(decision.codes), facts=facts,
                          prompts=[blocked_prompt_for_reasons(decision.codes)],
                          hangup_cause=hangup_cause_for_reasons(decision.codes)).where(
            CallRecord.id == existing.id).execute()
        return existing.id


@unit_of_work()
def release(call_uuid: str, now: datetime, *, originated: bool = True) -> bool:
    """Free the call's seat and number slots and its hold; True when something was live."""
    return reservations.release(call_uuid, now, originated=originated)


@unit_of_work()
def heartbeat(call_uuid: str, now: datetime, settings) -> bool:
    """Keep the reservation alive for another ``hold_lease_s``; False: end the call."""
    return reservations.heartbeat(call_uuid, now, settings.hold_lease_s)


def _set_timeouts(timeout_s: float) -> None:
    """PostgreSQL's own lock and statement timeouts for the rest of the transaction: what is
    left of the deadline (the client-side deadline in models.db ends a wait on a frozen server)."""
    if is_postgres():
        ms = str(max(1, int(timeout_s * 1000)))
        sql.run("transaction_timeouts", (ms, ms))


def _unavailable(callee: Callee, exc: BaseException) -> Decision:
    detail = f"{type(exc).__name__}: {exc}".strip()[:300]
    return Decision(allowed=False, reasons=(Reason(POLICY_UNAVAILABLE, detail),), billable=not callee.emergency,
                    emergency=callee.emergency, callee=callee.e164 or callee.dialled,
                    facts={"reason_details": {POLICY_UNAVAILABLE: detail}})


def _record(request: CallRequest, decision: Decision, now: datetime, node: str, decide_ms: float,
            callee_uuid: str | None) -> int:
    facts = dict(decision.facts)
    facts["billable"] = decision.billable
    facts["record_allowed"] = decision.record_allowed
    facts["hold_fen"] = decision.hold_fen
    refusal = {}
    if not decision.allowed:  # B6: what the agent will hear and how the channel ends, in this write
        refusal = dict(prompts=[blocked_prompt_for_reasons(decision.codes)],
                       hangup_cause=hangup_cause_for_reasons(decision.codes))
    return sql.insert_row(CallRecord, dict(
        direction="outbound", agent_uuid=request.call_uuid, callee_uuid=callee_uuid, tenant=decision.tenant_id,
        seat=decision.seat_id, seat_address=request.seat_address[:300], campaign=decision.campaign_id,
        caller_number=decision.caller_id or "", callee_number=decision.callee[:32], dialled=request.dialled[:64],
        decision="allowed" if decision.allowed else "blocked", reasons=list(decision.codes), facts=facts,
        decide_ms=decide_ms, max_duration_s=decision.max_duration_s,
        result="admitted" if decision.allowed else "blocked", created_at=now, node=node, **refusal,
    ))
