"""Every CSV the CLI writes is safe to open in a spreadsheet (OWASP CSV injection), and stays usable."""
from __future__ import annotations

import io

import pytest

from models import CallRecord, Tenant
from models.complaints import complaints
from models.csv_export import CsvWriter, safe_cell

from csv_checks import HOSTILE, assert_kept, assert_no_formula, parse


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_that_could_start_a_formula_gets_one_leading_quote(value):
    assert safe_cell(value) == "'" + value
    assert safe_cell(value, phone_number=True) == "'" + value


def test_harmless_text_and_computed_numbers_are_written_as_they_are():
    for value in ("acme", "1001@acme.example", "138****8000", "2026-11-23 10:00:00", "", "a=b", "x-y"):
        assert safe_cell(value) == value
    assert [safe_cell(v) for v in (-1200, 0, 12, 1.5, None)] == [-1200, 0, 12, 1.5, ""]
    assert safe_cell(True) == "True"


def test_only_a_well_formed_e164_number_in_a_phone_column_keeps_its_plus():
    assert safe_cell("+8613800138000", phone_number=True) == "+8613800138000"
    assert safe_cell("+8613800138000") == "'+8613800138000"  # not a phone column: text like any other
    for not_e164 in ("+14****0100", "+0123456", "+1", "+1234567890123456", "+86 138 0013 8000", "+86138001380x0"):
        assert safe_cell(not_e164, phone_number=True) == "'" + not_e164


def test_the_writer_neutralises_every_row_and_checks_its_columns():
    out = io.StringIO()
    writer = CsvWriter(out, ["caller", "note", "fen"], phone_columns=("caller",))
    writer.writerow(["+8613800138000", "=1+1", -5])
    writer.writerow(["", "two\rlines", 0])
    assert out.getvalue() == "caller,note,fen\r\n+8613800138000,'=1+1,-5\r\n,\"two\rlines\",0\r\n"
    with pytest.raises(ValueError, match="phone columns"):
        CsvWriter(io.StringIO(), ["a"], phone_columns=("b",))
    with pytest.raises(ValueError, match="expected 3 cells"):
        writer.writerow(["x"])


@pytest.fixture
def hostile_world(cli):
    assert cli("tenant", "add", "acme", "--name", "Acme", "--display-name", "A", "--hotline", "4008123456",
               "--seats", "2", "--rate", "12").code == 0
    tenant = Tenant.get(Tenant.code == "acme")
    for i, value in enumerate(HOSTILE):
        # an inbound call from a SIP From user chosen by the caller; a seat name as presented
        CallRecord.create(tenant=tenant, direction="inbound", agent_uuid=f"in-{i}", caller_number=value,
                          callee_number="+8613800138000", seat_address=value, reasons=["=BAD()"])
        complaints.file_complaint("acme", f"1380013800{i}", channel="hotline", text=value, call_uuid=f"in-{i}")
    return tenant


def test_fsapp_calls_csv(cli, hostile_world):
    result = cli("calls", "--format", "csv")
    assert result.code == 0, result
    rows = parse(result.out)
    assert len(rows) == len(HOSTILE)
    assert_no_formula(rows, phone_columns=("caller", "callee"))
    for value in HOSTILE:
        assert_kept(rows, "caller", value)
        assert_kept(rows, "seat", value)
    assert {row["callee"] for row in rows} == {"+8613800138000"}  # a number a script or import can use
    assert {row["reasons"] for row in rows} == {"'=BAD()"}


def test_fsapp_complaint_list_csv(cli, hostile_world):
    result = cli("complaint", "list", "--format", "csv")
    assert result.code == 0, result
    rows = parse(result.out)
    assert len(rows) == len(HOSTILE)
    assert_no_formula(rows, phone_columns=("number",))
    for value in HOSTILE:
        assert_kept(rows, "text", value.strip())  # the complaint keeps its text stripped
    assert {row["number"] for row in rows} == {f"+861380013800{i}" for i in range(len(HOSTILE))}


def test_fsapp_statement_csv_keeps_negative_amounts_numbers(cli, hostile_world):
    assert cli("topup", "acme", "1000").code == 0
    assert cli("ledger", "adjust", "acme", "300", "--note", "=HYPERLINK(\"x\")").code == 0
    month = hostile_world.created_at.strftime("%Y-%m")
    result = cli("statement", "acme", "--month", month, "--format", "csv")
    assert result.code == 0, result
    rows = parse(result.out)
    assert_no_formula([{k: v for k, v in row.items() if k != "fen"} for row in rows])
    fen = {row["item"]: row["fen"] for row in rows}
    assert fen["adjustments_fen"] == "-300" and fen["topups_fen"] == "1000"
