"""The process-wide scheduler of the live calls' periodic work (heartbeat, hold extension)."""
import contextvars

import gevent

from fs_app.flows.ticker import Ticker

where = contextvars.ContextVar("where", default="")


def test_ticks_every_interval_until_cancelled_and_in_the_starting_context():
    ticker, seen = Ticker(), []
    where.set("call-1")
    task = ticker.every(0.02, lambda: seen.append(where.get()) or True)
    gevent.sleep(0.11)
    assert 3 <= len(seen) <= 6 and set(seen) == {"call-1"}
    task.cancel()
    count = len(seen)
    gevent.sleep(0.06)
    assert len(seen) == count


def test_a_tick_returning_false_ends_its_task_and_others_go_on():
    ticker, a, b = Ticker(), [], []
    ticker.every(0.01, lambda: a.append(1) is None and len(a) < 2)
    ticker.every(0.015, lambda: b.append(1) or True)
    gevent.sleep(0.1)
    assert len(a) == 2 and len(b) >= 4


def test_cancel_waits_for_a_running_tick():
    ticker, done = Ticker(), []

    def slow():
        gevent.sleep(0.05)
        done.append(1)
        return True

    task = ticker.every(0.01, slow)
    gevent.sleep(0.03)  # the first tick is running
    task.cancel(timeout=1)
    assert done == [1]
    gevent.sleep(0.05)
    assert done == [1]
