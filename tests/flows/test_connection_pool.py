"""Live calls hold a database connection only while they talk to the database: under gevent a
connection stays checked out of the PostgreSQL pool until it is closed, so without units of work
every live call would pin one and the (pool size + 1)th concurrent call would fail to admit."""
from __future__ import annotations

import pytest

import models
from models.db import CALLS
from models.calls.tables import CallRecord
from fake_switch import LegScript, Press

from .conftest import make_tenant, place_agent_call

NUMBERS = ("+861061234567", "+861061234568", "+861061234569", "+861061234560")
CALLEES = ("+8613800138000", "+8613800138001", "+8613800138002", "+8613800138003")
USERS = ("1001", "1002", "1003", "1004")


@pytest.mark.postgres
@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_concurrent_calls_share_a_pool_smaller_than_the_calls(db, make_settings, telephony):
    make_tenant(seats=4, numbers=NUMBERS, callees=CALLEES, seat_users=USERS)
    pool = models.database.pools()[CALLS]  # the pool live calls take from (models.db)
    models.database.close()  # the test's own greenlet gives its connection back too
    saved = pool._max_connections, pool._wait_timeout
    # two connections for four calls; a call waits up to 10 s for one (an upper bound for a busy
    # machine: the calls below stay up until all four are bridged, so if live calls pinned their
    # connections the third would wait in vain and never be bridged)
    pool._max_connections, pool._wait_timeout = 2, 10.0
    try:
        fake = telephony.start(make_settings())
        talk = LegScript(presses=[Press("2")])  # declines recording, then talks until hung up below
        calls = [place_agent_call(fake, callee[3:], user=user, callee_scripts={callee: talk})
                 for user, callee in zip(USERS, CALLEES)]
        assert all(call.wait_for("b-leg:bridge", 20) for call in calls)  # four live calls at once
        for call in calls:
            call.callee_legs[0].hangup()  # each callee hangs up
        assert all(call.wait_ended(20) for call in calls)
        assert telephony.wait_idle()  # every call's flow has returned
        assert len(pool._in_use) == 0  # every connection went back to the pool
    finally:
        pool._max_connections, pool._wait_timeout = saved
    results = sorted(r.result for r in CallRecord.select())
    assert results == ["completed"] * 4, [(r.result, r.reasons) for r in CallRecord.select()]
