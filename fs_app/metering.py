"""Live-call metering: what a call flow calls at answer, periodically while the call lasts, and
at hangup (RULEBOOK A13, B5, C1, C6), in the life cycle of CGRateS sessions: authorize
(admission took the hold) -> init (``answered``) -> periodic debit (``extend``) -> terminate
(``hangup``).

The money guarantee is the hold: the call may talk for as long as its hold pays for. Every
``hold_extend_interval_s`` the hold is grown to cover talk up to ``now + lookahead`` (the warning
time plus two extension intervals, so the warning is only heard when an extension failed), as far
as the available balance allows; a top-up during the call lets the next extension go further.
Every call returns an ``Allowance`` whose ``allowed_end`` is where the flow must (re)schedule the
hangup (``sched_hangup``) and ``warn_at`` the warning (B5). An allowed end never moves earlier.

Times: pass FreeSWITCH's own timestamps (``Caller-Channel-Answered-Time`` /
``Caller-Channel-Hangup-Time``, microseconds, see ``event_time``) so that the app's billed
seconds and the CDR's agree; naive UTC datetimes everywhere.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from models.calls import billing
from models.ledger import balances
from models.calls.billing import ChargeResult
from models.calls.tables import CallRecord
from domain.clock import utcnow
from models.db import unit_of_work, write_transaction
from domain.errors import InvalidInput
from models.tenancy.tables import Tenant

log = logging.getLogger(__name__)


def event_time(usec: str | int | None) -> datetime | None:
    """A FreeSWITCH microsecond epoch (event header or CDR ``*_uepoch``) as naive UTC; None for 0."""
    try:
        value = int(usec or 0)
    except (TypeError, ValueError):
        return None
    if value <= 0:
        return None
    return datetime.fromtimestamp(value // 1_000_000, tz=timezone.utc).replace(
        tzinfo=None, microsecond=value % 1_000_000)


@dataclass(frozen=True)
class Allowance:
    """How long a live call may go on."""

    allowed_end: datetime | None  # hang up here (naive UTC); None: money does not limit this call
    warn_at: datetime | None  # play the warning here (allowed_end - duration_warning_s)
    covered_s: int | None  # talk seconds from answer the hold pays for; None: unlimited
    hold_fen: int
    settled: bool = False  # the call is already charged: stop metering it
    reserved: bool = True  # False: no live hold was found, the end comes from the admission decision
    lapsed: bool = False  # the hold's lease ran out (missed heartbeats): end the call now (fail closed)

    def hangup_in_s(self, now: datetime | None = None) -> int | None:
        """Whole seconds from ``now`` to the allowed end, rounded down, for ``sched_hangup +N``
        (FreeSWITCH's scheduler fires on whole seconds, never later than asked)."""
        if self.allowed_end is None:
            return None
        remaining = self.allowed_end - (now or utcnow())
        return max(int(remaining.total_seconds()), 0)


SETTLED = Allowance(None, None, None, 0, settled=True)


FIRST_RETRY_S = 0.25  # then doubled each try, within charge_retry_s


def retry_delays(budget_s: float) -> list[float]:
    """The waits between charge attempts: 0.25, 0.5, 1, 2 ... s while their sum fits the budget."""
    delays, delay = [], FIRST_RETRY_S
    while sum(delays) + delay <= budget_s + 1e-9:
        delays.append(delay)
        delay *= 2
    return delays


class Meter:
    """Metering for one process; ``settings`` is ``fs_app.config.Settings``. ``sleep`` is how a
    retry waits (gevent-patched ``time.sleep`` in the app: it yields to the other calls)."""

    def __init__(self, settings, sleep=time.sleep):
        self.settings = settings
        self.sleep = sleep
        self.retry_delays = retry_delays(settings.charge_retry_s)
        self.interval_s = settings.hold_extend_interval_s
        self.warning_s = settings.duration_warning_s
        self.lookahead_s = settings.duration_warning_s + 2 * settings.hold_extend_interval_s
        self.lease_s = max(settings.hold_lease_s, 2 * settings.hold_extend_interval_s)
        self.emergency_numbers = tuple(settings.emergency_numbers)
        self.node = settings.node_name

    # -- the three moments of a call -----------------------------------------------------------

    @unit_of_work()
    def answered(self, *, callee_uuid: str, agent_uuid: str, answered_at: datetime | None = None) -> Allowance:
        """The callee answered: billing starts (C1). Records the answer time and extends the hold
        from it. A late answer report for a call already charged changes nothing (``settled``)."""
        answered_at = answered_at or utcnow()
        with write_transaction():
            record = billing.find_call_record(callee_uuid, agent_uuid)
            if record is None:
                log.warning("answer of %s: no call record for agent leg %s", callee_uuid, agent_uuid)
            elif record.charged:
                return SETTLED
            else:
                changes = {}
                if record.callee_uuid is None:
                    changes["callee_uuid"] = callee_uuid
                if record.answered_at is None:
                    changes["answered_at"] = answered_at
                if record.result in ("admitted", "ringing"):
                    changes["result"] = "answered"
                if changes:
                    CallRecord.update(**changes).where(
                        (CallRecord.id == record.id) & (CallRecord.charged == False)).execute()  # noqa: E712
        return self.extend(callee_uuid=callee_uuid, agent_uuid=agent_uuid, now=answered_at,
                           answered_at=answered_at)

    @unit_of_work()
    def extend(self, *, callee_uuid: str, agent_uuid: str, now: datetime | None = None,
               answered_at: datetime | None = None) -> Allowance:
        """The periodic extension (every ``hold_extend_interval_s``): grow the hold if the balance
        allows and say where the call must end now."""
        now = now or utcnow()
        record = billing.find_call_record(callee_uuid, agent_uuid)
        if record is not None and record.charged:
            return SETTLED
        if record is not None:
            answered_at = answered_at or record.answered_at
        direction = record.direction if record is not None else "outbound"
        numbers = (record.dialled, record.callee_number) if record is not None else ()
        if billing.is_emergency(numbers, self.emergency_numbers):
            return Allowance(None, None, None, 0)  # A5: never limited, never billed
        cover = billing.extend_hold(agent_uuid, answered_at=answered_at, direction=direction,
                                    lookahead_s=self.lookahead_s, lease_s=self.lease_s, at=now)
        if cover.found:
            return self._allowance(cover.allowed_end, cover.covered_s, cover.hold_fen, answered_at, True)
        if cover.lapsed:
            log.warning("hold of %s lapsed; ending the call", agent_uuid)
            return Allowance(now, now, 0, 0, reserved=False, lapsed=True)
        return self._unreserved(record, answered_at, now)

    def hangup(self, *, callee_uuid: str, agent_uuid: str, answered_at: datetime | None,
               ended_at: datetime | None, hangup_cause: str = "", direction: str | None = None,
               dialled: str = "", record_changes: dict | None = None,
               release_at: datetime | None = None) -> ChargeResult:
        """The call ended: charge it exactly once under ``call:<callee uuid>`` (duplicates and
        late reports are harmless) and release the money its hold guarded. ``record_changes``:
        call-record fields written in the same transaction; ``release_at``: end the agent leg's
        reservation in it too (see ``billing.charge_call``).

        A database failure is retried after ``retry_delays`` (each try its own transaction and
        connection; the charge key makes a try that did commit harmless); the last failure is
        raised, and the CDR job settles the call later."""
        attempt = (callee_uuid, agent_uuid, answered_at, ended_at or utcnow(), hangup_cause, direction, dialled,
                   record_changes, release_at)
        for delay in self.retry_delays:
            try:
                return self._charge(*attempt)
            except InvalidInput:
                raise  # not the database's fault: a retry would fail the same way
            except Exception as exc:  # noqa: BLE001 - a database error or timeout: try again
                log.warning("charge of %s failed (%s: %s); retrying in %.2f s", callee_uuid, type(exc).__name__,
                            exc, delay)
                self.sleep(delay)
        return self._charge(*attempt)  # the last try: its failure is the caller's (the CDR job settles it)

    @unit_of_work()
    def _charge(self, callee_uuid, agent_uuid, answered_at, ended_at, hangup_cause, direction, dialled,
                record_changes, release_at) -> ChargeResult:
        return billing.charge_call(
            callee_uuid, source="app", answered_at=answered_at, ended_at=ended_at,
            agent_uuid=agent_uuid, direction=direction, hangup_cause=hangup_cause, dialled=dialled,
            emergency_numbers=self.emergency_numbers, node=self.node, record_changes=record_changes,
            release_at=release_at)

    # -- the periodic loop ---------------------------------------------------------------------

    def keep_extending(self, *, callee_uuid: str, agent_uuid: str, on_change, stop: threading.Event,
                       current: Allowance | None = None) -> None:
        """Run in the call's greenlet (threading is gevent-patched in the app): extend every
        interval until ``stop`` is set or the call is settled, and call ``on_change(allowance)``
        whenever the allowed end moved, so the flow reschedules its hangup and warning. A failed
        extension (database away) is logged and the current limit stands (B5)."""
        tick = self.extension_tick(callee_uuid=callee_uuid, agent_uuid=agent_uuid, on_change=on_change,
                                   current=current)
        while not stop.wait(self.interval_s):
            if not tick():
                return

    def extension_tick(self, *, callee_uuid: str, agent_uuid: str, on_change, current: Allowance | None = None):
        """One step of ``keep_extending`` as a function for a scheduler (``flows.ticker``): extend
        once, call ``on_change`` when the allowed end moved; returns False once the call is settled."""
        last_end = [current.allowed_end if current is not None else None]

        def tick() -> bool:
            try:
                allowance = self.extend(callee_uuid=callee_uuid, agent_uuid=agent_uuid)
            except Exception:  # noqa: BLE001 - the limit already scheduled stays in force
                log.exception("hold extension of %s failed; the current limit stands", callee_uuid)
                return True
            if allowance.settled:
                return False
            if allowance.allowed_end != last_end[0]:
                last_end[0] = allowance.allowed_end
                on_change(allowance)
            return True

        return tick

    # -- helpers -------------------------------------------------------------------------------

    def _allowance(self, allowed_end, covered_s, hold_fen, answered_at, reserved) -> Allowance:
        warn_at = allowed_end - timedelta(seconds=self.warning_s) if allowed_end is not None else None
        return Allowance(allowed_end, warn_at, covered_s, hold_fen, reserved=reserved)

    def _unreserved(self, record: CallRecord | None, answered_at, now) -> Allowance:
        """No live hold (not taken, released, or lapsed beyond recovery): keep to the admission
        decision's maximum duration; without one, to what the unheld balance buys right now."""
        if record is not None and record.max_duration_s is not None:
            covered = record.max_duration_s
        elif record is not None and record.tenant_id:
            tenant = Tenant.get_by_id(record.tenant_id)
            tariff = billing.tariff_of(tenant, record.direction)
            money = balances.available(tenant, now)
            covered = tariff.covered_seconds(max(money.available_fen, 0))
            if covered is None:
                return self._allowance(None, None, 0, answered_at, False)
        else:
            covered = 0
        start = answered_at or now
        return self._allowance(start + timedelta(seconds=covered), covered, 0, answered_at, False)

