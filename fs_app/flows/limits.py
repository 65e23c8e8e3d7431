"""The duration limit of a call (B5), kept by FreeSWITCH itself.

``sched_hangup +N <callee uuid> ALLOTTED_TIMEOUT`` cuts the call at the allowed end even if
this process dies, and ``sched_broadcast +(N - warning) <callee uuid> <duration_warning> both``
warns both parties first. Both tasks are scheduled in the group named by the callee uuid
(mod_commands / switch_ivr_schedule_*), so re-arming after a hold extension is
``sched_del <uuid>`` and scheduling again. FreeSWITCH's scheduler ticks on whole seconds (+N
fires after N-1..N s), and ``Allowance.hangup_in_s`` rounds down, so the cut is never late.
"""
from __future__ import annotations

import logging
import threading

from fs_app.channel import Channel
from fs_app.metering import Allowance, Meter

from .common import prompt_file, quietly
from .ticker import TICKER

log = logging.getLogger("fsapp.flows.limits")


class DurationLimit:
    """Arms, re-arms and finally stops the limit of one answered leg."""

    def __init__(self, channel: Channel, settings, *, uuid: str, lang: str, tenant_code: str | None):
        self.channel = channel
        self.settings = settings
        self.uuid = uuid
        self.lang = lang
        self.tenant_code = tenant_code
        self.armed_end = None
        self.warned = False
        self._stop = threading.Event()
        self._extender = None

    def arm(self, allowance: Allowance) -> None:
        """Schedule the hangup (and the warning when there is time for it) for ``allowance``."""
        if allowance.allowed_end is None or allowance.allowed_end == self.armed_end:
            return
        seconds = allowance.hangup_in_s()
        if self.armed_end is not None:
            self.channel.sched_del(self.uuid)
        self.channel.sched_hangup(seconds, "ALLOTTED_TIMEOUT", uuid=self.uuid)
        warn_in = seconds - self.settings.duration_warning_s
        if self.settings.duration_warning_s > 0 and warn_in >= 1:
            path = prompt_file(self.settings, "duration_warning", self.lang, self.tenant_code)
            self.channel.sched_broadcast(warn_in, path, leg="both", uuid=self.uuid)
            self.warned = True
        self.armed_end = allowance.allowed_end
        log.info("duration limit armed: hangup in %s s (until %s)", seconds, allowance.allowed_end)

    def keep_extending(self, meter: Meter, *, callee_uuid: str, agent_uuid: str, current: Allowance) -> None:
        """Extend the hold every ``hold_extend_interval_s`` (process-wide ticker); re-arm when the end moves."""
        def on_change(allowance: Allowance) -> None:
            if allowance.lapsed:
                log.warning("hold lapsed: ending the call now")
                quietly(self.channel.uuid_kill, self.uuid, "ALLOTTED_TIMEOUT")
                self._stop.set()
                return
            quietly(self.arm, allowance)

        tick = meter.extension_tick(callee_uuid=callee_uuid, agent_uuid=agent_uuid, on_change=on_change,
                                    current=current)
        # on the process-wide scheduler, not a greenlet of its own (fs_app.flows.ticker)
        self._extender = TICKER.every(meter.interval_s,
                                      lambda: not self._stop.is_set() and tick() and not self._stop.is_set())

    def stop(self) -> None:
        self._stop.set()
        if self._extender is not None:
            self._extender.cancel(timeout=5)  # let a running extension finish (up to 5 s)
