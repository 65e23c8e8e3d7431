"""A call of the fake: its first leg (the channel the dialplan handed to the app), the legs it
created, the moments its legs reach and the admission latency the benchmarks read."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from gevent.event import Event as GeventEvent

from .scripts import LEG_PREFIXES, LegScript

if TYPE_CHECKING:
    from .leg import FakeLeg
    from .switch import FakeFreeSwitch


class FakeCall:
    """An agent (or inbound) call and every leg it created."""

    def __init__(self, fs: "FakeFreeSwitch", callee_scripts: dict[str, LegScript] | None):
        self.fs = fs
        self.callee_scripts = dict(callee_scripts or {})
        self.legs: list[FakeLeg] = []
        self.a_leg: FakeLeg | None = None
        self.t_connect: float | None = None
        self.t_callee_command: float | None = None
        self.ticks_before_callee_command: int | None = None
        self.writes_before_callee_command: int | None = None
        self.callee_failures: list[tuple[str, str]] = []
        self.connect_error: Exception | None = None
        self.ended = GeventEvent()
        self._moments: dict[str, GeventEvent] = {}

    def moment(self, spec: str) -> GeventEvent:
        """The event set when a leg of this call reaches a moment: ``"a-leg:<moment>"`` or
        ``"b-leg:<moment>"`` (MOMENTS)."""
        if not spec.startswith(LEG_PREFIXES):
            raise ValueError(f"a call moment names its leg: 'a-leg:...' or 'b-leg:...', not {spec!r}")
        event = self._moments.get(spec)
        if event is None:
            event = self._moments[spec] = GeventEvent()
        return event

    def wait_for(self, spec: str, timeout: float = 10.0) -> bool:
        """Wait until a leg of the call reaches ``spec`` (e.g. "b-leg:bridge"); False on timeout."""
        return self.moment(spec).wait(timeout)

    def script_for(self, number: str) -> LegScript:
        return self.callee_scripts.get(number) or self.fs.default_callee

    def note_callee_command(self) -> None:
        if self.t_callee_command is None:
            self.t_callee_command = time.monotonic()
            leg = self.a_leg
            if leg is not None and leg.connection is not None:
                # what the first leg went through before the callee's INVITE (bench/call_pdd.py)
                self.ticks_before_callee_command = leg.ticks
                self.writes_before_callee_command = leg.connection.writes_received

    @property
    def admission_latency(self) -> float | None:
        """Seconds from the A-leg TCP connect to the receipt of the first originate/bridge."""
        if self.t_connect is None or self.t_callee_command is None:
            return None
        return self.t_callee_command - self.t_connect

    @property
    def callee_legs(self) -> list[FakeLeg]:
        return [leg for leg in self.legs if leg is not self.a_leg]

    def leg(self, number: str) -> FakeLeg:
        for leg in self.legs:
            if leg is not self.a_leg and leg.number == number:
                return leg
        raise KeyError(number)

    def _check_ended(self) -> None:
        if self.ended.is_set():
            return
        for leg in self.legs:
            if not leg.hangup_done.is_set():
                return
            if leg.connection is not None and not leg.connection.closed.is_set():
                return
        self.ended.set()

    def wait_ended(self, timeout: float = 10.0) -> bool:
        """True once every leg hung up and every socket of the call is closed."""
        return self.ended.wait(timeout)

    @property
    def hangup_cause(self) -> str | None:
        return self.a_leg.hangup_cause if self.a_leg else None
