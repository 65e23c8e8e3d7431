"""The admin's CSV export opened in a spreadsheet: no cell starts a formula, numbers stay usable,
and the response says what it is once."""
from __future__ import annotations

from datetime import timedelta

from models.calls.tables import CallRecord
from domain.clock import utcnow

from conftest import Wire
from csv_checks import HOSTILE, assert_kept, assert_no_formula, parse

PHONE_COLUMNS = ("caller", "callee")


def hostile_calls(world):
    now = utcnow()
    for i, value in enumerate(HOSTILE):
        CallRecord.create(tenant=world.acme, direction="inbound", agent_uuid=value, callee_uuid=f"in-{i}",
                          caller_number=value, callee_number="+8613800138000", seat_address=value,
                          created_at=now - timedelta(minutes=i), decision="blocked", reasons=["DNC"], result="blocked")


def test_export_neutralises_hostile_cells_for_pii_users(world, browser):
    hostile_calls(world)
    response = browser("op").get("/calls/export.csv?tenant=acme")
    assert response.status_code == 200
    rows = parse(response.get_data(as_text=True))
    assert len(rows) == len(HOSTILE) + 2
    assert_no_formula(rows, PHONE_COLUMNS)
    for value in HOSTILE:
        for column in ("caller", "seat", "agent_uuid"):
            assert_kept(rows, column, value)
    assert "+8613800138000" in {row["callee"] for row in rows}  # a full number keeps its plus


def test_export_neutralises_hostile_cells_for_masked_numbers(world, browser):
    hostile_calls(world)
    rows = parse(browser("acme_admin").get("/calls/export.csv").get_data(as_text=True))
    assert len(rows) == len(HOSTILE) + 2
    assert_no_formula(rows, PHONE_COLUMNS)
    assert {row["callee"] for row in rows} >= {"138****8000"}
    assert "'=HY****&A1)" in {row["caller"] for row in rows}  # masked, and still not a formula


def test_export_content_type_is_sent_once_on_the_wire(world, served):
    wire = Wire(served)
    _status, cookie = wire.login("op")
    status, headers, body = wire.request("GET", "/calls/export.csv", cookie=cookie)
    assert status == 200
    assert headers.get_all("Content-Type") == ["text/csv; charset=utf-8"]
    assert headers["Content-Disposition"] == "attachment; filename=calls.csv"
    assert body.startswith("\ufeffcreated_at_local,tenant,seat") and body.count("\r\n") == 4
