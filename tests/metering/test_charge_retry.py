"""A failed charge at hangup is retried in the app (issue 14, item 8) before it is left to the CDR
job: each try is its own transaction, the ledger key makes the tries and the job idempotent. The
failure is a real one from the database: a trigger that refuses every ledger entry."""
from datetime import timedelta, timezone

import pytest

from fs_app import cdr
from fs_app.config import load_settings
from fs_app.metering import Meter, retry_delays
from models import database
from models.calls.billing import charge_key
from domain.clock import utcnow
from models.db import is_postgres

from fake_switch.cdrs import callee_leg, write
from .conftest import LEASED, admit, assert_ledger_sound, call_entries, fresh


class LedgerOutage:
    """Every INSERT into ledger_entry fails until ``end()``: what a charge meets when the database
    refuses its writes (full disk, a broken replica, a constraint gone wrong)."""

    def __init__(self):
        if is_postgres():
            database.execute_sql("CREATE OR REPLACE FUNCTION ledger_outage() RETURNS trigger AS "
                                 "$$ BEGIN RAISE EXCEPTION 'ledger outage'; END $$ LANGUAGE plpgsql")
            database.execute_sql("CREATE TRIGGER ledger_outage BEFORE INSERT ON ledger_entry "
                                 "FOR EACH ROW EXECUTE FUNCTION ledger_outage()")
        else:
            database.execute_sql("CREATE TRIGGER ledger_outage BEFORE INSERT ON ledger_entry "
                                 "BEGIN SELECT RAISE(ABORT, 'ledger outage'); END")
        self.active = True

    def end(self):
        if self.active:
            database.execute_sql("DROP TRIGGER ledger_outage" + (" ON ledger_entry" if is_postgres() else ""))
            self.active = False


def _us(moment):
    return int(moment.replace(tzinfo=timezone.utc).timestamp() * 1_000_000)


@pytest.fixture
def outage(db):
    fault = LedgerOutage()
    yield fault
    fault.end()


def test_the_retry_schedule_doubles_within_the_setting():
    assert retry_delays(3.5) == [0.25, 0.5, 1.0]
    assert retry_delays(0) == []
    assert retry_delays(4) == [0.25, 0.5, 1.0, 2.0]


def test_a_charge_that_fails_once_is_posted_by_the_retry(acme, outage):
    waits = []

    def sleep(seconds):  # the outage ends while the call waits for its retry
        waits.append(seconds)
        outage.end()

    meter = Meter(load_settings({}), sleep=sleep)
    record, hold = admit(acme, hold_fen=24)
    ended = utcnow().replace(microsecond=0)
    result = meter.hangup(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid,
                          answered_at=ended - timedelta(seconds=75), ended_at=ended, release_at=ended)
    assert waits == [0.25]
    assert result.charged_now and result.charge_fen == 24
    assert [(e.idempotency_key, e.amount_fen) for e in call_entries(record.callee_uuid)] == [
        (charge_key(record.callee_uuid), -24)]
    assert fresh(record).charged and fresh(hold).released_at is not None
    assert fresh(acme).balance_fen == 10_000 - 24
    assert_ledger_sound(acme)


def test_a_charge_that_keeps_failing_is_left_to_the_cdr_job_and_charged_once(acme, outage, tmp_path):
    waits = []
    meter = Meter(load_settings({"FSAPP_CHARGE_RETRY_S": "2"}), sleep=waits.append)
    record, hold = admit(acme, hold_fen=24)
    answered = utcnow().replace(microsecond=0) - timedelta(minutes=3)
    ended = answered + timedelta(seconds=75)
    report = dict(callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid, answered_at=answered,
                  ended_at=ended)
    with pytest.raises(Exception, match="ledger outage"):
        meter.hangup(**report)
    assert waits == [0.25, 0.5, 1.0]  # three retries within 2 s, then the failure is raised
    assert call_entries(record.callee_uuid) == [] and not fresh(record).charged
    outage.end()
    path = write(tmp_path, callee_leg(record.callee_uuid, parent=record.agent_uuid, caller=LEASED,
                                      destination="13800138000", start_us=_us(answered) - 5_000_000,
                                      answer_us=_us(answered), end_us=_us(ended)))
    settled = cdr.ingest([path])
    assert (settled.charged, settled.charged_fen) == (1, 24)
    late = meter.hangup(**report)  # the app's report arriving after all (a later retry, a restart)
    assert late.duplicate and not late.charged_now
    assert len(call_entries(record.callee_uuid)) == 1
    assert fresh(acme).balance_fen == 10_000 - 24 and fresh(hold).amount_fen == 0
    assert_ledger_sound(acme)


def test_bad_input_is_not_retried(acme):
    waits = []
    meter = Meter(load_settings({}), sleep=waits.append)
    with pytest.raises(Exception, match="tenant"):
        meter.hangup(callee_uuid="nobody-knows", agent_uuid="nobody", answered_at=None, ended_at=utcnow())
    assert waits == []
