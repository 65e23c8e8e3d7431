"""Every id a form accepts is checked against the tenant it writes for (D6): an id of another
tenant (or of nothing) is refused in the page's language, and nothing is written."""
from __future__ import annotations

import re

import pytest

import models
from models.accounts import users
from models.accounts.tables import ApiToken
from models.complaints.tables import Complaint


def snapshot():
    """Every row of every table: "nothing written" means this is unchanged."""
    return {m.__name__: sorted(tuple(sorted(r.items())) for r in m.select().dicts().iterator())
            for m in models.ALL_MODELS}


def error_of(response) -> str:
    match = re.search(r'<div class="error" role="alert">([^<]+)</div>', response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)[:300]
    return match.group(1)


@pytest.mark.parametrize("call_uuid", ["globex-answered", "no-such-call"])
def test_a_complaint_cannot_name_another_tenants_call(world, browser, call_uuid):
    b = browser("acme_admin")
    before = snapshot()
    response = b.post("/complaints", {"number": "13822223333", "channel": "12321", "call_uuid": call_uuid},
                      token_from="/complaints")
    assert response.status_code == 400
    assert error_of(response) == f"通话 ID {call_uuid} 不是租户 acme 的通话，请核对。未保存任何内容。"
    assert snapshot() == before
    b.get("/lang/en")
    response = b.post("/complaints", {"number": "13822223333", "channel": "12321", "call_uuid": call_uuid},
                      token_from="/complaints")
    assert error_of(response) == (f"Call ID {call_uuid} is not a call of tenant acme: please check it. "
                                  "Nothing was saved.")
    assert snapshot() == before


def test_a_complaint_names_its_own_tenants_call(world, browser):
    b = browser("acme_admin")
    response = b.post("/complaints", {"number": "13822223333", "channel": "12321", "call_uuid": "acme-answered"},
                      token_from="/complaints")
    assert response.status_code == 302
    assert Complaint.get(Complaint.number == "+8613822223333").call_uuid == "acme-answered"


def test_an_operator_cannot_link_a_call_to_the_wrong_tenant(world, browser):
    b = browser("op")
    before = snapshot()
    response = b.post("/complaints", {"tenant": "acme", "number": "13822223333", "channel": "hotline",
                                                  "call_uuid": "globex-answered"}, token_from="/complaints")
    assert response.status_code == 400 and "不是租户 acme 的通话" in error_of(response)
    assert snapshot() == before


@pytest.mark.parametrize("form,message", [
    ({"pin_number": "02150000002"}, "号码 +862150000002 不是租户 acme 租用的号码。未保存任何内容。"),
    ({"campaign": "loans"}, "租户 acme 没有话术 loans。未保存任何内容。"),
])
def test_a_seat_cannot_use_another_tenants_number_or_campaign(world, browser, form, message):
    b = browser("op")
    before = snapshot()
    response = b.post("/tenants/acme/seats", {"address": "1009@acme.example.com", **form},
                                  token_from="/tenants/acme")
    assert response.status_code == 400 and error_of(response) == message
    assert snapshot() == before


def test_a_token_of_another_user_cannot_be_revoked(world, browser):
    _token, theirs = users.create_token(users.get_user("globex_admin"), "bi")
    b = browser("acme_admin")
    response = b.post(f"/account/tokens/{theirs.id}/revoke", token_from="/account")
    assert response.status_code == 302
    assert "没有这个令牌。" in b.get("/account").get_data(as_text=True)
    assert ApiToken.get_by_id(theirs.id).revoked_at is None
