"""Tenant isolation (D6): a tenant admin never reaches another tenant's calls, numbers, recordings,
lists, complaints or exports, whatever they put in the URL, the ids or the form."""
from __future__ import annotations

import pytest

from models.calls.tables import CallRecord
from models.lists.tables import Consent, DoNotCall
from models.complaints.tables import Complaint

# What would betray each tenant's data on a page.
MARKERS = {
    "acme": ["阿克米", "1001@acme", "+8613800138000", "138****8000", "+862150000001", "136****6000", "spring"],
    "globex": ["环球", "2001@globex", "+8613700137000", "137****7000", "+862150000002", "135****5000", "loans"],
}
VIEWERS = {"acme_admin": ("acme", "globex"), "globex_admin": ("globex", "acme")}

LIST_PAGES = ["/", "/calls", "/calls/export.csv", "/money", "/seats", "/numbers", "/campaigns",
              "/campaigns?status=review", "/consent", "/dnc", "/dnc?scope=platform", "/complaints?show=all",
              "/audit", "/account"]


def other_ids(world, other: str) -> dict:
    tenant = getattr(world, other)
    return dict(
        call=(world.globex_call if other == "globex" else world.acme_call).id,
        campaign=(world.globex_campaign if other == "globex" else world.acme_campaign).id,
        complaint=Complaint.create(tenant=tenant, number="+8613700137099", channel="hotline",
                                   due_at=world.acme_call.created_at).id,
        code=tenant.code,
    )


@pytest.mark.parametrize("viewer", sorted(VIEWERS))
@pytest.mark.parametrize("page", LIST_PAGES)
def test_list_pages_never_show_another_tenants_data(world, browser, viewer, page):
    own, other = VIEWERS[viewer]
    b = browser(viewer)
    for url in (page, page + ("&" if "?" in page else "?") + f"tenant={other}",
                page + ("&" if "?" in page else "?") + f"tenant={other}&reveal=1"):
        response = b.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        leaked = [m for m in MARKERS[other] if m in body]
        assert not leaked, (url, leaked)


@pytest.mark.parametrize("viewer", sorted(VIEWERS))
@pytest.mark.parametrize("method,template,expected", [
    ("GET", "/calls/{call}", 404),
    ("GET", "/calls/{call}?reveal=1", 404),
    ("GET", "/calls/{call}/recording", 404),
    ("GET", "/campaigns/{campaign}", 404),
    ("POST", "/campaigns/{campaign}/review", 403),
    ("POST", "/complaints/{complaint}/answer", 404),
    ("GET", "/tenants/{code}", 403),
    ("POST", "/tenants/{code}/status", 403),
    ("POST", "/tenants/{code}/ban", 403),
    ("POST", "/tenants/{code}/unban", 403),
    ("POST", "/tenants/{code}/seats", 403),
    ("POST", "/tenants/{code}/numbers", 403),
    ("POST", "/tenants/{code}/topup", 403),
])
def test_routes_with_ids_refuse_another_tenants_objects(world, browser, viewer, method, template, expected):
    own, other = VIEWERS[viewer]
    url = template.format(**other_ids(world, other))
    b = browser(viewer)
    response = b.get(url) if method == "GET" else b.post(url, {"decision": "approve", "answer": "x", "amount": "1",
                                                               "function": "outbound", "status": "suspended"})
    assert response.status_code == expected, url
    body = response.get_data(as_text=True)
    assert not [m for m in MARKERS[other] if m in body]


def test_platform_wide_calls_are_not_shown_to_tenant_admins(world, browser):
    orphan = CallRecord.create(tenant=None, agent_uuid="unknown-seat", seat_address="9999@nowhere",
                               callee_number="+8613311112222", reasons=["SEAT_UNKNOWN"])
    b = browser("acme_admin")
    assert b.get(f"/calls/{orphan.id}").status_code == 404
    assert "9999@nowhere" not in b.get("/calls").get_data(as_text=True)
    assert "9999@nowhere" in browser("op").get("/calls").get_data(as_text=True)


@pytest.mark.parametrize("url,data,model,field", [
    ("/dnc", {"tenant": "globex", "number": "13812340000"}, DoNotCall, DoNotCall.tenant),
    ("/consent", {"tenant": "globex", "number": "13812340000", "source": "web"}, Consent, Consent.tenant),
    ("/complaints", {"tenant": "globex", "number": "13812340000", "channel": "hotline"}, Complaint, Complaint.tenant),
])
def test_forms_write_to_the_tenant_admins_own_tenant(world, browser, url, data, model, field):
    assert browser("acme_admin").post(url, data).status_code == 302
    rows = list(model.select().where(model.number == "+8613812340000"))
    assert rows and all(getattr(r, "tenant_id") == world.acme.id for r in rows)


def test_operator_and_auditor_see_every_tenant(world, browser):
    for username in ("op", "auditor"):
        body = browser(username).get("/calls").get_data(as_text=True)
        assert "acme" in body and "globex" in body
