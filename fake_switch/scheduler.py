"""Time in the fake: FreeSWITCH's 20 ms media tick, and its scheduler (sched_hangup,
sched_broadcast) that ticks on whole seconds, runs at 1/time_scale of real time and can be held
still."""

from __future__ import annotations

import time

import gevent
from gevent.event import Event as GeventEvent

#: FreeSWITCH's media tick (seconds at time_scale 1): a sendmsg waits for the channel's next one
FS_TICK = 0.02


class Scheduler:
    """FreeSWITCH's scheduler: tasks in groups (sched_del), on a clock that can be held."""

    def __init__(self, time_scale: float):
        self._scheduled: dict[str, list] = {}  # scheduler group -> greenlets (sched_del)
        self._scale = time_scale or 1.0
        self._base = time.monotonic() / self._scale
        self._since = time.monotonic()
        self._running = GeventEvent()
        self._running.set()
        self._held = GeventEvent()

    def seconds(self) -> float:
        """FreeSWITCH seconds on the scheduler's clock: it runs at 1/time_scale of real time
        (monotonic) and stands still while held."""
        if self._held.is_set():
            return self._base
        return self._base + (time.monotonic() - self._since) / self._scale

    def hold(self) -> None:
        """Stop the scheduler's clock: tasks are accepted (and sched_del removes them) but none
        fires until :meth:`release`."""
        if not self._held.is_set():
            self._base = self.seconds()
            self._running.clear()
            self._held.set()

    def release(self) -> None:
        """Let the scheduler's clock run again from where it stood."""
        if self._held.is_set():
            self._since = time.monotonic()
            self._held.clear()
            self._running.set()

    def schedule(self, seconds: int, func, *args, group: str | None = None) -> None:
        """FreeSWITCH's scheduler ticks on whole epoch seconds: ``+N`` fires after N-1..N s (on the
        scheduler's clock, so +1 and +3 keep their order)."""
        due = int(self.seconds()) + seconds
        fired: list[bool] = []

        def fire():
            while True:
                self._running.wait()
                left = due - self.seconds()
                if left <= 0:
                    break
                self._held.wait(left * self._scale)  # wakes early when held
            fired.append(True)
            func(*args)

        task = gevent.spawn(fire)
        task.fired = fired
        if group is not None:
            tasks = self._scheduled.setdefault(group, [])
            tasks[:] = [t for t in tasks if not t.dead]
            tasks.append(task)

    def unschedule(self, group: str) -> int:
        """``sched_del <group>``: cancel the group's tasks that did not run yet; how many."""
        tasks = [t for t in self._scheduled.pop(group, []) if not t.dead and not t.fired]
        for task in tasks:
            task.kill(block=False)
        return len(tasks)
