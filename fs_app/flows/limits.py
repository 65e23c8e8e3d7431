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

from fs_app.channel import Channel
from fs_app.metering import Allowance

from .common import prompt_file, quietly

log = logging.getLogger("fsapp.flows.limits")


class DurationLimit:
    """Arms and re-arms the limit of one answered leg (``fs_app.charging`` decides when)."""

    def __init__(self, channel: Channel, settings, *, uuid: str, lang: str, tenant_code: str | None):
        self.channel = channel
        self.settings = settings
        self.uuid = uuid
        self.lang = lang
        self.tenant_code = tenant_code
        self.armed_end = None
        self.warned = False

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

    def arm_quietly(self, allowance: Allowance) -> None:
        """``arm`` on a channel that may be gone meanwhile (the extension ticks off the call's path)."""
        quietly(self.arm, allowance)

    def cut_now(self) -> None:
        """End the leg at once: its reservation lapsed (fail closed)."""
        quietly(self.channel.uuid_kill, self.uuid, "ALLOTTED_TIMEOUT")
