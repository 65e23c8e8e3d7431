"""The process-wide scheduler of the live calls' periodic work (heartbeat, hold extension).

The tests wait for ticks, not for a stretch of time: on a busy machine a tick may come late,
never early."""
import contextvars
import time

import gevent
from gevent.event import Event

from fs_app.ticker import Ticker

where = contextvars.ContextVar("where", default="")


def counting(seen: list, value, enough: int, reached: Event):
    """A tick that records ``value()`` and sets ``reached`` once it has ticked ``enough`` times."""
    def tick():
        seen.append((time.monotonic(), value()))
        if len(seen) >= enough:
            reached.set()
        return True
    return tick


def test_ticks_every_interval_until_cancelled_and_in_the_starting_context():
    ticker, seen, three = Ticker(), [], Event()
    where.set("call-1")
    started = time.monotonic()
    task = ticker.every(0.02, counting(seen, where.get, 3, three))
    assert three.wait(10)
    task.cancel()
    assert {value for _, value in seen} == {"call-1"}
    # one interval before the first tick and between ticks: never sooner
    stamps = [started] + [at for at, _ in seen]
    assert all(later - earlier >= 0.02 * 0.9 for earlier, later in zip(stamps, stamps[1:]))
    count = len(seen)
    gevent.sleep(0.06)  # three more intervals: no tick after the cancel
    assert len(seen) == count


def test_a_tick_returning_false_ends_its_task_and_others_go_on():
    ticker, a, b, b_ticked = Ticker(), [], [], Event()
    ticker.every(0.01, lambda: a.append(1) is None and len(a) < 2)

    def tick_b():
        b.append(1)
        b_ticked.set()
        return True

    ticker.every(0.015, tick_b)
    deadline = time.monotonic() + 10
    while len(a) < 2 and time.monotonic() < deadline:
        gevent.sleep(0.01)
    assert len(a) == 2
    for _ in range(4):  # b goes on for four more ticks after a stopped
        b_ticked.clear()
        assert b_ticked.wait(10)
    assert len(a) == 2 and len(b) >= 4


def test_cancel_waits_for_a_running_tick():
    ticker, done, running, release = Ticker(), [], Event(), Event()

    def slow():
        running.set()
        release.wait(10)
        done.append(1)
        return True

    task = ticker.every(0.01, slow)
    assert running.wait(10)  # the first tick is running
    canceller = gevent.spawn(task.cancel, timeout=10)
    gevent.sleep(0.05)
    assert not canceller.ready()  # cancel waits for the running tick...
    release.set()
    canceller.join(10)
    assert canceller.ready() and done == [1]  # ...which was let finish, not killed
    gevent.sleep(0.05)
    assert done == [1]
