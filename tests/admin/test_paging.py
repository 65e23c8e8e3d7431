"""Every list page has a total and keyset paging (issue 17): complaints, tenants, seats, numbers,
campaigns, walked page by page with a small page size; each row shows once, in the list's order."""
from __future__ import annotations

import importlib
import re
from datetime import timedelta

import pytest

from admin import paging
from models.seats import number_leases
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from domain.clock import utcnow
from models.complaints.tables import Complaint
from models.tenancy.tables import Campaign
from models.seats.tables import NumberLease, Seat


def text(response) -> str:
    return response.get_data(as_text=True)


def walk(b, url: str) -> tuple[list[str], list[str]]:
    """Every page of a list from ``url``: (each page's HTML, the totals the pages said)."""
    pages, totals = [], []
    while url:
        assert len(pages) < 20, "paging does not end"
        page = text(b.get(url))
        pages.append(page)
        totals.append(page.split('class="muted total">')[1].split("<")[0])
        url = page.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&") if 'id="next-page"' in page else None
    return pages, totals


def _more_tenants(count: int) -> None:
    for i in range(count):
        tenants.add_tenant(f"t{i}", name=f"租户{i}", display_name=f"租户{i}", hotline="4008001000", seats=5, rate=10)


@pytest.fixture
def small_pages(monkeypatch):
    for name in ("campaigns", "complaints", "seats", "tenants"):
        monkeypatch.setattr(importlib.import_module(f"admin.views.{name}"), "PAGE", 2)


def test_tenants_are_paged_by_code_with_a_total(world, browser, small_pages):
    _more_tenants(3)
    pages, totals = walk(browser("op"), "/tenants")
    codes = [code for page in pages for code in re.findall(r'href="/tenants/([\w-]+)"', page)]
    assert codes == ["acme", "globex", "t0", "t1", "t2"]
    assert totals == ["共 5 条"] * 3 and "下一页" in pages[0] and "下一页（更早）" not in pages[0]
    assert "回到第一页" in pages[1]


def test_seats_are_paged_by_tenant_and_user(world, browser, small_pages):
    tenants.set_tenant("acme", seats=6)
    for user in ("1002", "1003", "1000"):
        seats.add_seat("acme", f"{user}@acme.example.com")
    pages, totals = walk(browser("op"), "/seats")
    shown = [address for page in pages for address in re.findall(r'<td><a href="/seats/\d+">(\d{4}@[\w.]+)</a></td>', page)]
    assert shown == ["1000@acme.example.com", "1001@acme.example.com", "1002@acme.example.com",
                     "1003@acme.example.com", "2001@globex.example.com"]
    assert totals == ["共 5 条"] * 3
    # a tenant admin's pages hold their own seats only, and the total says so
    pages, totals = walk(browser("acme_admin"), "/seats")
    assert totals == ["共 4 条"] * 2 and "globex" not in "".join(pages)


def test_numbers_are_paged_by_paid_through(world, browser, small_pages):
    for i in range(3):
        number_leases.lease_number("acme", f"0215000001{i}", days=10 + i)
    pages, totals = walk(browser("op"), "/numbers")
    shown = [n for page in pages for n in re.findall(r'data-number="([+\d]+)"', page)]
    expected = [n for (n,) in NumberLease.select(NumberLease.number)
                .order_by(NumberLease.paid_through, NumberLease.number, NumberLease.id).tuples()]
    assert shown == expected and len(shown) == 5 and totals == ["共 5 条"] * 3


def test_campaigns_are_paged_newest_first(world, browser, small_pages, settings, clock):
    for i in range(3):
        clock.advance(timedelta(minutes=1))
        campaigns.add_campaign("acme", f"c{i}", script="您好", keyword_categories=settings.screening_keywords)
    pages, totals = walk(browser("op"), "/campaigns")
    listed = [p.split('id="campaigns"')[1].split("</table>")[0] for p in pages]
    ids = [int(i) for table in listed for i in re.findall(r'href="/campaigns/(\d+)"', table)]
    expected = [c.id for c in Campaign.select().order_by(Campaign.updated_at.desc(), Campaign.id.desc())]
    assert ids == expected and len(ids) == 5 and totals == ["共 5 条"] * 3
    assert "下一页（更早）" in pages[0]


def test_complaints_are_paged_most_urgent_first(world, browser, small_pages):
    now = utcnow()
    for hours in (5, 1, 3):
        Complaint.create(tenant=world.acme, number="+8613800138000", channel="hotline",
                         received_at=now, due_at=now + timedelta(hours=hours))
    Complaint.create(tenant=world.acme, number="+8613800138000", channel="hotline", received_at=now,
                     due_at=now + timedelta(hours=2), answered_at=now, answer="已处理")
    pages, totals = walk(browser("op"), "/complaints?show=all")
    ids = [int(i) for page in pages for i in re.findall(r'data-id="(\d+)"', page)]
    due = [Complaint.get_by_id(i) for i in ids]
    assert len(ids) == 5 and totals == ["共 5 条"] * 3
    assert [c.answered_at is not None for c in due] == [False, False, False, False, True]
    assert [c.due_at for c in due[:4]] == sorted(c.due_at for c in due[:4])
    _, totals = walk(browser("op"), "/complaints")  # open ones only
    assert totals == ["共 4 条"] * 2


def test_a_cursor_that_is_not_ours_starts_at_the_first_page(world, browser, small_pages):
    _more_tenants(1)
    first = text(browser("op").get("/tenants"))
    for junk in ("x", "%%%", "WzFd", "W251bGxd", "a" * 500):
        page = text(browser("op").get(f"/tenants?after={junk}"))
        assert re.findall(r'href="/tenants/([\w-]+)"', page) == re.findall(r'href="/tenants/([\w-]+)"', first)


def test_cursor_round_trip_keeps_times_and_text(db):
    from datetime import datetime

    at = datetime(2026, 11, 23, 2, 0, 0, 123456)
    cursor = paging.encode_cursor((at, "1001", 7))
    values = paging.decode_cursor(cursor, (Seat.valid_to, Seat.sip_user, Seat.id))
    assert [v.value for v in values] == [at, "1001", 7]
    assert paging.decode_cursor(cursor, (Seat.id,)) is None  # a cursor of another list
