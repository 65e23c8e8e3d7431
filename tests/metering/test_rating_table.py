"""C1/C2: the rating table, from talk time to fen, through the same functions the charge uses."""
from datetime import datetime, timedelta

import pytest

from fs_app.config import load_settings
from fs_app.metering import Meter
from models.calls.billing import Tariff, billsec_from_us, charge_call, talk_seconds
from domain.clock import utcnow

from .conftest import admit, assert_ledger_sound, call_entries, fresh, make_tenant

# billsec -> (minutes, fen at 12 fen/min, fen at 12 fen/min + 5 fen connect fee)
TABLE = [
    (0, 0, 0, 0),
    (1, 1, 12, 17),
    (59, 1, 12, 17),
    (60, 1, 12, 17),
    (61, 2, 24, 29),
    (119, 2, 24, 29),
    (120, 2, 24, 29),
    (3600, 60, 720, 725),
]


@pytest.mark.parametrize("billsec, minutes, plain, with_fee", TABLE)
def test_rating_table(billsec, minutes, plain, with_fee):
    assert Tariff(12, 60, 0).charge(billsec) == plain
    assert Tariff(12, 60, 5).charge(billsec) == with_fee


@pytest.mark.parametrize("talk, billsec", [
    (timedelta(0), 0),
    (timedelta(milliseconds=400), 1),  # answered, talked less than a second: one increment (C1)
    (timedelta(seconds=1), 1),
    (timedelta(seconds=59, microseconds=999_999), 59),
    (timedelta(seconds=60, milliseconds=900), 60),  # cut at the 60 s limit: not pushed into minute 2
    (timedelta(seconds=61), 61),
    (timedelta(hours=1), 3600),
])
def test_talk_time_to_billed_seconds(talk, billsec):
    answered = datetime(2026, 11, 23, 10, 0, 0, 250_000)
    assert talk_seconds(answered, answered + talk) == billsec


def test_unanswered_is_zero_seconds():
    assert talk_seconds(None, utcnow()) == 0
    assert billsec_from_us(0) == 0 and billsec_from_us(-5) == 0


@pytest.mark.parametrize("billsec, minutes, plain, with_fee", TABLE)
def test_the_charge_at_hangup_follows_the_table(db, billsec, minutes, plain, with_fee):
    tenant = make_tenant("fee", rate=12, connect_fee=5, balance=10_000)
    plain_tenant = make_tenant("plain", rate=12, balance=10_000)
    answered = utcnow().replace(microsecond=0)
    for who, expected in ((tenant, with_fee), (plain_tenant, plain)):
        record, _ = admit(who, hold_fen=17)
        result = Meter(load_settings({})).hangup(
            callee_uuid=record.callee_uuid, agent_uuid=record.agent_uuid,
            answered_at=answered if billsec else None, ended_at=answered + timedelta(seconds=billsec))
        assert result.charge_fen == expected
        record = fresh(record)
        assert (record.billsec, record.billed_minutes, record.charge_fen, record.charged) == (
            billsec, minutes, expected, True)
        assert sum(-e.amount_fen for e in call_entries(record.callee_uuid)) == expected
        assert fresh(who).balance_fen == 10_000 - expected
        assert_ledger_sound(who)


def test_inbound_and_outbound_rates_differ(db):
    tenant = make_tenant("two", rate=12, inbound_rate=7, balance=1_000)
    now = utcnow()
    out_record, _ = admit(tenant, hold_fen=12)
    in_record, _ = admit(tenant, hold_fen=7, direction="inbound")
    for record in (out_record, in_record):
        charge_call(record.callee_uuid, source="app", agent_uuid=record.agent_uuid,
                    answered_at=now - timedelta(seconds=90), ended_at=now)
    assert fresh(out_record).charge_fen == 24 and fresh(in_record).charge_fen == 14
    assert fresh(tenant).balance_fen == 1_000 - 38
