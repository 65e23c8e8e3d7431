"""A call's money in one object: the charging session (CGRateS' authorize -> initiate -> update ->
terminate), RULEBOOK A3, A13, B5, C1, C6.

* authorize: ``authorize`` admits the call (``fs_app.admission``: the decision and the
  reservation, i.e. the seat and number slots and the balance hold);
* initiate: ``initiate`` at the answer: billing starts, the hold is extended from it and the
  duration limit (``flows.limits.DurationLimit``, sched_hangup in FreeSWITCH) is armed;
* update: ``keep_extending`` grows the hold and re-arms the limit while the call talks;
  ``keep_alive`` heartbeats the reservation of the agent leg; both on the process-wide ticker;
* terminate: ``terminate`` charges the call once (the ledger key ``call:<callee uuid>``, retried
  within ``charge_retry_s``) and releases the reservation in the same transaction; ``end`` is
  the agent leg's last word: the reservation is released unless a charge already did.

Every reservation ends in ``models.calls.reservations.release_locked``, whoever ends it: the charge, a
refusal, the agent leg's end or the periodic ``expire`` job. Flows call this session; they
never touch holds or the ledger themselves.
"""
from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

import gevent

from models.calls import reservations
from models.calls.billing import ChargeResult
from domain.clock import utcnow
from models.db import unit_of_work

from fs_app import metrics
from fs_app.admission import Admission, CallRequest, admit, release, heartbeat, revoke
from fs_app.deadlines import admission_deadline
from fs_app.metering import Allowance, Meter
from fs_app.ticker import TICKER

__all__ = ["ChargingSession", "authorize"]

log = logging.getLogger("fsapp.charging")


def authorize(request: CallRequest, settings, *, hung_up) -> Admission:
    """Admit the call by the admission deadline; an admission whose channel hung up meanwhile
    (``hung_up()``) is revoked: nothing may stay held for it."""
    now = utcnow()
    admission = admit(request, now, settings, node=settings.node_name, deadline=admission_deadline(settings))
    if admission.allowed and hung_up():
        admission = revoke(admission, request, now, settings.node_name,
                           "the channel hung up before admission finished")
    return admission


class ChargingSession:
    """The money of one call: ``agent_uuid`` owns the reservation, ``callee_uuid`` keys the
    charge (for an inbound call both are the caller's channel). ``limit``: the leg's duration
    limit (``arm(allowance)``, ``cut_now()``), None for a leg that only heartbeats."""

    def __init__(self, meter: Meter, *, agent_uuid: str, callee_uuid: str, limit=None):
        self.meter = meter
        self.agent_uuid = agent_uuid
        self.callee_uuid = callee_uuid
        self.limit = limit
        self.allowance: Allowance | None = None
        self.released = False  # a charge (or release) here ended the reservation
        self._stop = threading.Event()
        self._tasks: list = []

    # -- initiate and update -------------------------------------------------------------------

    def initiate(self, answered_at: datetime) -> Allowance:
        """The callee answered: billing starts (C1), the hold covers talk from now and the
        duration limit is armed (B5)."""
        self.allowance = self.meter.answered(callee_uuid=self.callee_uuid, agent_uuid=self.agent_uuid,
                                             answered_at=answered_at)
        if self.limit is not None:
            self.limit.arm(self.allowance)
        return self.allowance

    def keep_extending(self) -> None:
        """Grow the hold every ``hold_extend_interval_s`` and re-arm the limit when its end moves;
        a lapsed hold cuts the call at once (its slots may be another call's now: fail closed)."""
        def on_change(allowance: Allowance) -> None:
            if allowance.lapsed:
                log.warning("hold lapsed: ending the call now")
                self.limit.cut_now()
                self._stop.set()
                return
            self.limit.arm_quietly(allowance)

        tick = self.meter.extension_tick(callee_uuid=self.callee_uuid, agent_uuid=self.agent_uuid,
                                         on_change=on_change, current=self.allowance)
        self._every(self.meter.interval_s, lambda: not self._stop.is_set() and tick() and not self._stop.is_set(),
                    cancel_timeout=5)

    def keep_alive(self, settings, on_lapse) -> None:
        """Heartbeat the reservation every interval while the agent leg lives; a lapsed one
        calls ``on_lapse()`` (end the call) and stops."""
        def beat() -> bool:
            if self._stop.is_set():
                return False
            try:
                alive = heartbeat(self.agent_uuid, utcnow(), settings)
            except Exception:  # noqa: BLE001 - the lease still runs; try again next interval
                metrics.db_error("heartbeat")
                log.exception("heartbeat failed")
                return not self._stop.is_set()
            if not alive:
                log.warning("reservation lapsed: ending the call")
                on_lapse()
                return False
            return not self._stop.is_set()

        self._every(settings.hold_extend_interval_s, beat, cancel_timeout=0)

    def _every(self, interval_s: float, tick, *, cancel_timeout: float) -> None:
        # on the process-wide scheduler, not a greenlet of its own (fs_app.ticker)
        self._tasks.append((TICKER.every(interval_s, tick), cancel_timeout))

    def stop(self) -> None:
        """No more extensions or heartbeats (a running extension may finish, up to 5 s)."""
        self._stop.set()
        for task, timeout in self._tasks:
            task.cancel(timeout=timeout)
        self._tasks.clear()

    # -- terminate -----------------------------------------------------------------------------

    def terminate(self, *, answered_at: datetime | None, ended_at: datetime | None, hangup_cause: str,
                  record_changes: dict | None = None, direction: str | None = None, dialled: str = "",
                  release: bool = True) -> ChargeResult:
        """Charge the call once and, with ``release``, end the reservation in the same transaction.
        Raises the last database failure (the CDR reconciliation charges the call later)."""
        charge = self.meter.hangup(callee_uuid=self.callee_uuid, agent_uuid=self.agent_uuid,
                                   answered_at=answered_at, ended_at=ended_at, hangup_cause=hangup_cause,
                                   direction=direction, dialled=dialled, record_changes=record_changes,
                                   release_at=utcnow() if release else None)
        self.released = self.released or release
        return charge

    def end(self, *, originated: bool, settled_elsewhere: bool = False, wait_s: float = 0) -> None:
        """The agent leg's last word: release the reservation unless a charge here did, or
        (``settled_elsewhere``) the callee leg's charge does within ``wait_s``. ``originated``
        False: no callee leg was created, the attempt does not count (A9)."""
        self.stop()
        if self.released or (settled_elsewhere and self._settled_within(wait_s)):
            return
        self.release(originated=originated)

    def release(self, *, originated: bool = True) -> None:
        release(self.agent_uuid, utcnow(), originated=originated)
        self.released = True

    def _settled_within(self, wait_s: float) -> bool:
        """The callee leg's flow charges the call and then releases the reservation, so the
        call's money is held until the charge is posted (A13). Wait a little for that; if the
        callee leg's process is gone, the caller releases (the CDR reconciliation charges)."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with unit_of_work():
                if not reservations.unreleased(self.agent_uuid):
                    return True
            gevent.sleep(0.05)
        log.warning("callee leg %s did not settle within %ss; releasing here", self.callee_uuid, wait_s)
        return False
