"""Reports over a period (issue 17): figures per tenant, campaign and seat, stored settled days,
CSV, CDR mismatches, balances against daily spend, and tenant isolation."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from models.calls.rollups import CallDayRollup, CallDayStats
from models.calls.tables import CallRecord
from domain.clock import local_day, utcnow
from models.complaints.tables import AuditLog, Complaint

from conftest import _call


def text(response) -> str:
    return response.get_data(as_text=True)


def test_today_by_tenant_counts_answer_rate_blocked_and_revenue(world, browser):
    page = text(browser("op").get("/reports?period=today&by=tenant"))
    assert 'id="total-calls">3<' in page
    # acme: 2 calls, 1 blocked, 1 answered of 1 admitted (100%), blocked share 50%, 24 fen
    row = page.split('<td class="name">acme</td>')[1].split("</tr>")[0]
    assert ">2<" in row and "100.0%" in row and "50.0%" in row and "¥0.24" in row
    assert "NO_CONSENT" not in row  # reasons are labelled, never raw codes


def test_settled_days_are_stored_once_and_reused(world, browser, clock):
    yesterday = utcnow() - timedelta(days=1)
    _call(world.acme, world.acme_seat, world.acme_campaign, "+8613800138009", at=yesterday, billsec=120, charge=48,
          uuid="old-answered")
    clock.advance(timedelta(days=1))  # yesterday's local day is now settled
    page = text(browser("op").get("/reports?period=7d&by=campaign"))
    assert CallDayRollup.select().count() >= 1
    stored = CallDayStats.select().count()
    assert stored >= 1
    # a second view reads the stored days: nothing is aggregated or stored again
    browser("op").get("/reports?period=7d&by=campaign")
    assert CallDayStats.select().count() == stored
    assert "acme · spring" in page


def test_csv_of_the_table_goes_through_the_safe_writer_and_is_audited(world, browser):
    response = browser("op").get("/reports/export.csv?period=today&by=campaign")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["name", "calls", "answered"]
    by_name = {r[0]: r for r in rows[1:]}
    assert by_name["acme · spring"][1:3] == ["2", "1"]
    assert "\r\n" in response.get_data(as_text=True)  # models.csv_export's CRLF lines
    assert AuditLog.select().where(AuditLog.action == "reports.export").count() == 1


def test_tenant_admin_sees_only_their_tenant(world, browser):
    page = text(browser("acme_admin").get("/reports?period=30d&by=tenant&tenant=globex"))
    tables = page.split('id="report"')[1]
    assert "globex" not in tables and 'id="total-calls">2<' in page


def test_cdr_mismatches_are_listed(world, browser):
    CallRecord.update(cdr_mismatch=True, cdr_billsec=75).where(CallRecord.id == world.acme_call.id).execute()
    page = text(browser("op").get("/reports?period=today"))
    table = page.split('id="cdr-mismatches"')[1].split("</table>")[0]
    assert f"/calls/{world.acme_call.id}" in table and ">75<" in table and ">61<" in table


def test_low_balance_is_flagged_against_the_average_daily_spend(world, browser, clock):
    start = utcnow()
    for day in range(1, 8):  # acme spends 40 yuan a day for a week; its balance is 100 yuan
        _call(world.acme, world.acme_seat, world.acme_campaign, "+8613800138010",
              at=start - timedelta(days=day), billsec=60, charge=40_00, uuid=f"spend-{day}")
    page = text(browser("op").get("/reports"))
    acme = page.split('id="balances"')[1].split("acme</td>")[1].split("</tr>")[0]
    globex = page.split('id="balances"')[1].split("globex</td>")[1].split("</tr>")[0]
    assert "¥40.00" in acme and "2.5" in acme and "low-balance" in acme  # 2.5 days left, fewer than 3
    assert "low-balance" not in globex


def test_complaints_per_thousand_connected_calls(world, browser):
    Complaint.create(tenant=world.acme, number="+8613800138000", channel="hotline", call_uuid="acme-answered",
                     received_at=utcnow() - timedelta(minutes=5), due_at=utcnow() + timedelta(hours=2))
    page = text(browser("op").get("/reports?by=seat"))
    row = page.split("acme · 1001@acme.example.com")[1].split("</tr>")[0]
    assert "1000.00" in row  # 1 complaint over 1 connected call


def test_empty_period_says_so_in_words(db, settings, browser, world):
    CallRecord.delete().execute()
    page = text(browser("op").get("/reports?period=today"))
    assert "所选期间没有呼叫" in page and "chart-empty" in page and "<svg" not in page


def test_month_period_and_unknown_arguments_fall_back(world, browser):
    page = text(browser("op").get(f"/reports?period=month&month={local_day(utcnow()):%Y-%m}&by=nonsense"))
    assert "按租户" in page
    assert browser("op").get("/reports?period=month&month=2026-13").status_code == 200


def test_revenue_counts_seat_and_number_rents_from_the_ledger(world, browser):
    from models.ledger.balances import debit
    from models.seats.rent import number_rent_key, seat_rent_key

    now = utcnow()
    debit(world.acme.id, "seat_rent", 30_00, key=seat_rent_key(world.acme_seat.id, now), require_available=False)
    debit(world.acme.id, "number_rent", 15_00, key=number_rent_key(world.acme_number.id, world.acme.id, now),
          require_available=False)
    debit(world.globex.id, "seat_rent", 1_00, key=seat_rent_key(world.globex_seat.id, now - timedelta(days=40)),
          require_available=False, at=now - timedelta(days=40))  # outside the period
    op = browser("op")
    page = text(op.get("/reports?period=today&by=tenant"))
    assert 'id="total-seat-rent">¥30.00<' in page and 'id="total-number-rent">¥15.00<' in page
    assert 'id="total-revenue">¥45.34<' in page  # 0.24 + 0.10 of calls, 30 + 15 of rents
    acme = page.split('<td class="name">acme</td>')[1].split("</tr>")[0]
    assert "¥0.24" in acme and "¥30.00" in acme and "¥15.00" in acme and "¥45.24" in acme
    by_seat = text(op.get("/reports?period=today&by=seat"))
    seat_row = by_seat.split("acme · 1001@acme.example.com")[1].split("</tr>")[0]
    assert "¥30.00" in seat_row and "¥30.24" in seat_row and "—" in seat_row  # no number rent per seat
    assert 'id="rent-note"' in by_seat and 'id="total-revenue">¥45.34<' in by_seat
    rows = list(csv.reader(io.StringIO(text(op.get("/reports/export.csv?period=today&by=campaign")).lstrip("\ufeff"))))
    header, spring = rows[0], {r[0]: r for r in rows[1:]}["acme · spring"]
    assert header[7:11] == ["call_revenue_fen", "seat_rent_fen", "number_rent_fen", "revenue_fen"]
    assert spring[7:11] == ["24", "", "", "24"]  # a campaign has no rent of its own
    tenants = list(csv.reader(io.StringIO(text(op.get("/reports/export.csv?period=today&by=tenant")).lstrip("\ufeff"))))
    assert {r[0]: r for r in tenants[1:]}["acme"][7:11] == ["24", "3000", "1500", "4524"]


def test_settled_hours_of_an_open_day_are_stored_as_one_block_then_replaced_by_the_day(world, browser, clock):
    from models.calls.rollups import CallHourRollup

    op = browser("op")
    # 10:00 in Beijing: hours 00-03 are settled (6 hours after their end); the calls are at 09:30-09:50
    assert 'id="total-calls">3<' in text(op.get("/reports?period=today"))
    assert [h for (h,) in CallHourRollup.select(CallHourRollup.hour).tuples()] == [4]  # one block: the first 4 hours
    assert CallDayStats.select().count() == 0  # no calls in those hours
    clock.advance(timedelta(hours=7))  # 17:00: hours 00-10 are settled, the calls' hour too; nothing is read live
    page = text(op.get("/reports?period=today&by=seat"))
    assert 'id="total-calls">3<' in page and "¥0.34" in page
    assert [h for (h,) in CallHourRollup.select(CallHourRollup.hour).tuples()] == [11]  # the longer block replaced it
    assert CallDayStats.select().where(CallDayStats.hour == 11).count() == 2  # acme's and globex's seat
    assert CallDayStats.select().where(CallDayStats.hour != 11).count() == 0
    clock.advance(timedelta(hours=1))  # one more hour settles: the block grows by it, keeping the stored figures
    assert 'id="total-calls">3<' in text(op.get("/reports?period=today&by=seat"))
    assert [h for (h,) in CallHourRollup.select(CallHourRollup.hour).tuples()] == [12]
    clock.advance(timedelta(days=1))  # the day is settled: its day rows replace its block
    assert 'id="total-calls">3<' in text(browser("op").get("/reports?period=7d"))  # a new login: a day passed
    day = local_day(utcnow() - timedelta(days=1))
    assert CallDayRollup.select().where(CallDayRollup.day == day).count() == 1
    assert CallHourRollup.select().where(CallHourRollup.day == day).count() == 0
    assert CallDayStats.select().where((CallDayStats.day == day) & CallDayStats.hour.is_null(False)).count() == 0
