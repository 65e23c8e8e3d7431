"""The operations half of issue 17 through the HTTP stack: every provisioning act of the CLI as a
POST (CSRF, audited, POST/redirect/GET with a message), for the roles allowed to do it, and
tenant isolation (another tenant's object: 404, nothing written)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from models.accounts import users
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from models.calls.tables import CallRecord, Hold
from domain.clock import utcnow
from models.lists.tables import Consent
from models.ledger.tables import LedgerEntry
from models.accounts.tables import AdminUser
from models.complaints.tables import AuditLog
from models.tenancy.tables import Campaign, Tenant
from models.seats.tables import NumberLease, Seat


from conftest import PASSWORD


@pytest.fixture
def app(app_with_freeswitch):
    return app_with_freeswitch


def audited(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def text(response) -> str:
    return response.get_data(as_text=True)


# --- tenants ----------------------------------------------------------------------------------


def test_an_operator_changes_rates_seats_hotline_and_approval(world, browser):
    op = browser("op")
    response = op.post("/tenants/acme/settings", {
        "display_name": "阿克米客服", "hotline": "4008009000", "sip_domain": "acme.example.com", "seats": "5",
        "rate": "0.20", "inbound_rate": "0.08", "connect_fee": "0.05", "seat_rent": "30", "industry_approved": "1"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/tenants/acme/settings")
    acme = Tenant.get_by_id(world.acme.id)
    assert (acme.display_name, acme.hotline, acme.seats_purchased, acme.rate_out_fen, acme.rate_in_fen,
            acme.connect_fee_fen, acme.seat_rent_fen, acme.industry_approved) == (
        "阿克米客服", "+864008009000", 5, 20, 8, 5, 3000, True)
    assert audited("tenant.set")[-1].actor == "op"
    assert "已保存租户 acme 的设置" in text(op.get("/tenants/acme/settings"))


def test_fewer_purchased_seats_than_in_use_is_refused_and_nothing_is_written(world, browser):
    op = browser("op")
    before = len(audited("tenant.set"))
    response = op.post("/tenants/acme/settings", {"seats": "0", "rate": "9.99"})
    assert response.status_code == 400
    assert "正在使用 1 个坐席" in text(response)  # the model's refusal, in the page's language
    acme = Tenant.get_by_id(world.acme.id)
    assert acme.seats_purchased == 3 and acme.rate_out_fen == 12 and len(audited("tenant.set")) == before


def test_a_tenant_admin_narrows_their_windows_only_inside_the_platform(world, browser):
    admin = browser("acme_admin")
    assert admin.get("/tenants/acme/settings").status_code == 200
    assert admin.post("/tenants/acme/windows", {"windows": "10:00-11:30"}).status_code == 302
    assert Tenant.get_by_id(world.acme.id).calling_windows == "10:00-11:30"
    wider = admin.post("/tenants/acme/windows", {"windows": "08:00-20:00"})
    assert wider.status_code == 400 and "租户只能缩小时段" in text(wider)
    assert Tenant.get_by_id(world.acme.id).calling_windows == "10:00-11:30"
    # not the operator's settings, not another tenant
    assert admin.post("/tenants/acme/settings", {"rate": "0.01"}).status_code == 403
    assert admin.get("/tenants/globex/settings").status_code == 404
    assert admin.post("/tenants/globex/windows", {"windows": "10:00-11:00"}).status_code == 404
    assert Tenant.get_by_id(world.globex.id).calling_windows == "" and Tenant.get_by_id(world.acme.id).rate_out_fen == 12


def test_refund_and_adjustment_never_touch_live_holds(world, browser):
    op = browser("op")
    assert op.post("/tenants/globex/payout", {"kind": "refund", "amount": "10", "note": "overpaid"}).status_code == 302
    assert Tenant.get_by_id(world.globex.id).balance_fen == 100_00 - 10_00
    assert LedgerEntry.select().where((LedgerEntry.tenant == world.globex) & (LedgerEntry.kind == "refund")).count() == 1
    no_note = op.post("/tenants/globex/payout", {"kind": "adjust", "amount": "1", "note": ""})
    assert no_note.status_code == 400 and "请填写备注" in text(no_note)
    # acme has 100.00 with 1.20 held by a live call: 99.00 more than is free is refused
    too_much = op.post("/tenants/acme/payout", {"kind": "adjust", "amount": "99.50", "note": "x"})
    assert too_much.status_code == 400
    assert Tenant.get_by_id(world.acme.id).balance_fen == 100_00
    assert browser("acme_admin").post("/tenants/acme/payout", {"kind": "refund", "amount": "1", "note": "x"}
                                      ).status_code == 403


def test_termination_has_a_confirm_step_and_settles_by_its_kind(world, browser):
    op = browser("op")
    page = op.get("/tenants/globex/terminate")
    assert page.status_code == 200 and 'id="confirm-button"' in text(page) and "违规（没收余额）" in text(page)
    assert "<script" not in text(page).split("<main>")[1]  # a page, not a JS dialog
    missing_kind = op.post("/tenants/globex/terminate", {"kind": ""})
    assert missing_kind.status_code == 400 and Tenant.get_by_id(world.globex.id).status == "active"
    done = op.post("/tenants/globex/terminate", {"kind": "operator_fault", "reason": "platform closing"})
    assert done.status_code == 302
    globex = Tenant.get_by_id(world.globex.id)
    assert (globex.status, globex.termination_kind, globex.balance_fen) == ("terminated", "operator_fault", 0)
    assert not Seat.get_by_id(world.globex_seat.id).active
    assert audited("tenant.terminate")[-1].detail["kind"] == "operator_fault"
    assert "已终止" in text(op.get("/tenants/globex"))
    assert browser("acme_admin").post("/tenants/acme/terminate", {"kind": "violation"}).status_code == 403
    assert browser("auditor").post("/tenants/acme/terminate", {"kind": "violation"}).status_code == 403
    assert Tenant.get_by_id(world.acme.id).status == "active"


# --- seats ------------------------------------------------------------------------------------


def test_a_tenant_admin_pins_a_number_and_a_campaign_of_their_own_only(world, browser):
    admin = browser("acme_admin")
    url = f"/seats/{world.acme_seat.id}/routing"
    assert admin.post(url, {"pin_number": "02150000001", "campaign": "spring"}).status_code == 302
    seat = Seat.get_by_id(world.acme_seat.id)
    assert seat.pinned_number_id == world.acme_number.id and seat.default_campaign_id == world.acme_campaign.id
    foreign = admin.post(url, {"pin_number": "02150000002", "campaign": ""})
    assert foreign.status_code == 400 and "不是租户 acme 租用的号码" in text(foreign)
    assert Seat.get_by_id(world.acme_seat.id).pinned_number_id == world.acme_number.id
    assert admin.post(url, {"pin_number": "", "campaign": ""}).status_code == 302
    assert Seat.get_by_id(world.acme_seat.id).pinned_number_id is None
    assert admin.get(f"/seats/{world.globex_seat.id}").status_code == 404
    assert admin.post(f"/seats/{world.globex_seat.id}/routing", {"campaign": "loans"}).status_code == 404
    assert Seat.get_by_id(world.globex_seat.id).default_campaign_id is None


def test_a_new_sip_password_is_shown_once_on_the_response_and_freeswitch_is_told(world, browser, freeswitch):
    admin = browser("acme_admin")
    before = Seat.get_by_id(world.acme_seat.id).sip_a1_hash
    response = admin.post(f"/seats/{world.acme_seat.id}/password")
    assert response.status_code == 200 and 'id="issued-password"' in text(response)
    assert Seat.get_by_id(world.acme_seat.id).sip_a1_hash != before
    password = text(response).split('id="issued-password"')[1].split("<code>")[1].split("</code>")[0]
    assert len(password) >= 12 and password not in str(response.headers)
    assert password not in text(admin.get(f"/seats/{world.acme_seat.id}"))  # once
    assert ("id", "1001", "acme.example.com") in freeswitch.flushed
    assert audited("seat.password")[-1].actor == "acme_admin"
    assert browser("globex_admin").post(f"/seats/{world.acme_seat.id}/password").status_code == 404


def test_disabling_a_seat_asks_first_and_enabling_it_again_counts_seats(world, browser):
    admin = browser("acme_admin")
    confirm = admin.get(f"/seats/{world.acme_seat.id}/disable")
    assert confirm.status_code == 200 and 'id="confirm-button"' in text(confirm)
    assert Seat.get_by_id(world.acme_seat.id).active  # a GET changes nothing
    assert admin.post(f"/seats/{world.acme_seat.id}/disable").status_code == 302
    assert not Seat.get_by_id(world.acme_seat.id).active
    assert "已停用" in text(admin.get(f"/seats/{world.acme_seat.id}"))
    assert admin.post(f"/seats/{world.acme_seat.id}/enable").status_code == 302
    assert Seat.get_by_id(world.acme_seat.id).active
    again = admin.post(f"/seats/{world.acme_seat.id}/enable")
    assert again.status_code == 400 and "已经启用" in text(again)
    assert browser("auditor").post(f"/seats/{world.acme_seat.id}/disable").status_code == 403
    assert browser("globex_admin").post(f"/seats/{world.acme_seat.id}/disable").status_code == 404
    assert Seat.get_by_id(world.acme_seat.id).active


def test_seat_states_tell_the_truth(world, browser):
    now = utcnow()
    Seat.update(valid_to=now + timedelta(days=3)).where(Seat.id == world.acme_seat.id).execute()
    op = browser("op")
    page = text(op.get("/seats"))
    acme_row = page.split("1001@acme.example.com")[1].split("</tr>")[0]
    assert "即将到期" in acme_row and "有效" not in acme_row
    tenants.set_tenant("globex", status="suspended")
    globex_row = text(op.get("/seats")).split("2001@globex.example.com")[1].split("</tr>")[0]
    assert "租户整改中" in globex_row
    tenants.ban_tenant("acme", function="account", until=now + timedelta(days=1))
    assert "租户已封禁" in text(op.get(f"/seats/{world.acme_seat.id}"))
    numbers = text(op.get("/numbers"))
    assert numbers.split('data-number="+862150000001"')[1].split("</tr>")[0].count("即将到期") == 1  # the same 7-day rule


# --- numbers ----------------------------------------------------------------------------------


def test_inbound_mode_max_calls_and_release(world, browser):
    admin = browser("acme_admin")
    url = f"/numbers/{world.acme_number.id}"
    assert admin.post(url + "/settings", {"inbound_mode": "sequential"}).status_code == 302
    assert NumberLease.get_by_id(world.acme_number.id).inbound_mode == "sequential"
    assert admin.post(url + "/settings", {"inbound_mode": "simultaneous", "max_calls": "9"}).status_code == 403
    assert admin.get(url + "/release").status_code == 403
    assert admin.post(f"/numbers/{world.globex_number.id}/settings", {"inbound_mode": "sequential"}).status_code == 404
    assert NumberLease.get_by_id(world.globex_number.id).inbound_mode == "simultaneous"
    op = browser("op")
    assert op.post(url + "/settings", {"inbound_mode": "sequential", "max_calls": "4"}).status_code == 302
    assert NumberLease.get_by_id(world.acme_number.id).max_calls == 4
    bad = op.post(url + "/settings", {"inbound_mode": "sequential", "max_calls": "0"})
    assert bad.status_code == 400 and NumberLease.get_by_id(world.acme_number.id).max_calls == 4
    seats.set_routing("acme", "1001", pin_number="02150000001")
    confirm = op.get(url + "/release")
    assert confirm.status_code == 200 and 'id="confirm-button"' in text(confirm)
    assert NumberLease.get_by_id(world.acme_number.id).released_at is None
    assert op.post(url + "/release").status_code == 302
    assert NumberLease.get_by_id(world.acme_number.id).released_at is not None
    assert Seat.get_by_id(world.acme_seat.id).pinned_number_id is None
    assert audited("number.release")[-1].detail["seats_unpinned"] == 1
    assert op.post(url + "/release").status_code == 400  # already released


# --- campaigns, consent -----------------------------------------------------------------------


def test_a_tenant_admin_updates_a_script_and_its_recording(world, browser):
    campaigns.review_campaign("acme", "spring", approve=True)
    admin = browser("acme_admin")
    url = f"/campaigns/{world.acme_campaign.id}"
    assert admin.post(url + "/script", {"script": "您好，这里是阿克米，新的话术。"}).status_code == 302
    campaign = Campaign.get_by_id(world.acme_campaign.id)
    assert campaign.status == "review" and "新的话术" in campaign.script
    empty = admin.post(url + "/script", {"script": "  "})
    assert empty.status_code == 400 and "新的话术" in Campaign.get_by_id(world.acme_campaign.id).script
    assert admin.post(url + "/record", {"record": "0"}).status_code == 302
    assert not Campaign.get_by_id(world.acme_campaign.id).record
    assert admin.post(f"/campaigns/{world.globex_campaign.id}/script", {"script": "x"}).status_code == 404
    assert admin.post(f"/campaigns/{world.globex_campaign.id}/record", {"record": "0"}).status_code == 404
    assert Campaign.get_by_id(world.globex_campaign.id).record


def test_consent_is_revoked_only_in_the_own_tenant(world, browser):
    admin = browser("acme_admin")
    foreign = admin.post("/consent/revoke", {"tenant": "globex", "number": "13700137000"})
    assert foreign.status_code == 400  # written for acme, which has no consent for it
    assert Consent.get(Consent.number == "+8613700137000").revoked_at is None
    assert admin.post("/consent/revoke", {"number": "13800138000"}).status_code == 302
    assert Consent.get(Consent.number == "+8613800138000").revoked_at is not None
    assert browser("auditor").post("/consent/revoke", {"number": "13700137000", "tenant": "globex"}).status_code == 403


def test_every_new_form_needs_its_csrf_token(world, browser):
    op = browser("op")
    for url in ("/tenants/acme/settings", "/tenants/acme/terminate", f"/seats/{world.acme_seat.id}/disable",
                f"/numbers/{world.acme_number.id}/release", "/users", "/live/calls/live-1/end"):
        response = op.client.post(url, data={"kind": "violation", "role": "operator", "username": "x"})
        assert response.status_code == 400, url
    assert Tenant.get_by_id(world.acme.id).status == "active" and Seat.get_by_id(world.acme_seat.id).active


# --- logins -----------------------------------------------------------------------------------


def _issued(response) -> str:
    return text(response).split('id="issued-password"')[1].split("<code>")[1].split("</code>")[0]


def test_an_operator_adds_a_login_and_sees_its_password_once(world, browser):
    op = browser("op")
    response = op.post("/users", {"username": "acme_ops", "role": "tenant_admin", "tenant": "acme", "pii": "1"})
    assert response.status_code == 200
    password = _issued(response)
    assert "Set-Cookie" not in response.headers or password not in response.headers["Set-Cookie"]
    user = AdminUser.get(AdminUser.username == "acme_ops")
    assert (user.role, user.tenant_id, user.pii) == ("tenant_admin", world.acme.id, True)
    assert browser().login("acme_ops", password).status_code == 302
    assert password not in text(op.get("/users"))
    duplicate = op.post("/users", {"username": "acme_ops", "role": "auditor"})
    assert duplicate.status_code == 400 and "已存在" in text(duplicate)


def test_a_tenant_admin_manages_only_their_tenants_admins_and_raises_nothing(world, browser):
    admin = browser("acme_admin")
    listing = text(admin.get("/users"))
    assert "acme_pii" in listing and "globex_admin" not in listing and ">op<" not in listing
    assert admin.post("/users", {"username": "boss", "role": "operator"}).status_code == 403
    assert admin.post("/users", {"username": "spy", "role": "tenant_admin", "pii": "1"}).status_code == 403
    made = admin.post("/users", {"username": "acme_two", "role": "tenant_admin", "tenant": "globex"})
    assert made.status_code == 200
    assert AdminUser.get(AdminUser.username == "acme_two").tenant_id == world.acme.id  # their own, whatever the form
    globex_admin = AdminUser.get(AdminUser.username == "globex_admin")
    op_user = AdminUser.get(AdminUser.username == "op")
    for target in (globex_admin, op_user):
        assert admin.post(f"/users/{target.id}/disable").status_code == 404
        assert admin.post(f"/users/{target.id}/password").status_code == 404
    me = AdminUser.get(AdminUser.username == "acme_admin")
    assert admin.post(f"/users/{me.id}/disable").status_code == 403  # not their own login
    peer = AdminUser.get(AdminUser.username == "acme_pii")
    assert admin.post(f"/users/{peer.id}/pii", {"pii": "0"}).status_code == 302
    assert not AdminUser.get_by_id(peer.id).pii
    assert admin.post(f"/users/{peer.id}/pii", {"pii": "1"}).status_code == 403  # has no PII to give
    assert AdminUser.get_by_id(globex_admin.id).active and AdminUser.get_by_id(op_user.id).active
    assert browser("auditor").post("/users", {"username": "x1", "role": "auditor"}).status_code == 403


def test_disable_enable_reset_and_unlock(world, browser):
    op = browser("op")
    target = AdminUser.get(AdminUser.username == "acme_admin")
    victim = browser("acme_admin")
    assert op.get(f"/users/{target.id}/disable").status_code == 200
    assert op.post(f"/users/{target.id}/disable").status_code == 302
    assert not AdminUser.get_by_id(target.id).active
    assert victim.get("/").status_code == 302  # its session ended
    assert op.post(f"/users/{target.id}/enable").status_code == 302
    assert browser().login("acme_admin").status_code == 302  # its own password again
    reset = op.post(f"/users/{target.id}/password")
    new_password = _issued(reset)
    assert browser().login("acme_admin").status_code == 401
    assert browser().login("acme_admin", new_password).status_code == 302
    guesser = browser(address="192.0.2.50")
    for _ in range(5):
        guesser.login("acme_admin", "wrong password!")
    assert guesser.login("acme_admin", new_password).status_code == 401  # locked from that address
    assert "192.0.2.50" in text(op.get(f"/users/{target.id}"))
    assert op.post(f"/users/{target.id}/unlock").status_code == 302
    assert guesser.login("acme_admin", new_password).status_code == 302
    assert [r.actor for r in audited("user.unlock")] == ["op"]
    me = AdminUser.get(AdminUser.username == "op")
    assert op.post(f"/users/{me.id}/pii", {"pii": "0"}).status_code == 403


def test_the_idle_rule_is_in_sight_and_an_enabled_login_starts_its_count_again(world, browser, settings):
    now = utcnow()
    target = AdminUser.get(AdminUser.username == "globex_admin")
    AdminUser.update(last_login_at=now - timedelta(days=400)).where(AdminUser.id == target.id).execute()
    assert users.disable_idle_logins(now, settings.login_idle_disable_days) == ["globex_admin"]
    op = browser("op")
    row = text(op.get("/users")).split('data-user="globex_admin"')[1].split("</tr>")[0]
    assert "闲置停用" in row
    AdminUser.update(last_login_at=now - timedelta(days=300)).where(AdminUser.username == "auditor").execute()
    auditor_row = text(op.get("/users")).split('data-user="auditor"')[1].split("</tr>")[0]
    assert "65 天" in auditor_row
    assert op.post(f"/users/{target.id}/enable").status_code == 302
    assert users.disable_idle_logins(now + timedelta(days=1), settings.login_idle_disable_days) == []
    assert "365 天后" in text(op.get(f"/users/{target.id}"))


# --- live view --------------------------------------------------------------------------------


def test_the_live_json_is_scoped_and_masked(world, browser, freeswitch):
    freeswitch.register("1001", "acme.example.com", agent="Yealink SIP-T46U")
    Hold.create(call_uuid="globex-live", tenant=world.globex, seat=world.globex_seat, callee_number="+8613700137001",
                amount_fen=50, expires_at=utcnow() + timedelta(seconds=60))
    document = browser("acme_admin").get("/live.json").get_json()
    assert [c["uuid"] for c in document["calls"]] == ["live-1"]
    assert document["calls"][0]["callee"] == "138****8001" and "8613800138001" not in str(document)
    assert document["calls"][0]["end_url"] == "/live/calls/live-1/end"
    assert [(s["seat"], s["state"]) for s in document["seats"]] == [("1001@acme.example.com", "in_call")]
    everything = browser("op").get("/live.json").get_json()
    assert {c["uuid"] for c in everything["calls"]} == {"live-1", "globex-live"}
    assert {s["seat"]: s["state"] for s in everything["seats"]}["2001@globex.example.com"] == "in_call"
    watcher = browser("auditor").get("/live.json").get_json()
    assert all(c["end_url"] == "" for c in watcher["calls"])
    assert browser().get("/live.json").status_code == 302  # signed out: the login page


def test_ending_a_live_call_kills_its_legs_and_is_audited(world, browser, freeswitch):
    CallRecord.create(tenant=world.acme, seat=world.acme_seat, agent_uuid="live-1", callee_uuid="live-1-b",
                      decision="allowed", result="answered")
    freeswitch.add_channel("live-1")
    freeswitch.add_channel("live-1-b")
    admin = browser("acme_admin")
    confirm = admin.get("/live/calls/live-1/end")
    assert confirm.status_code == 200 and "MANAGER_REQUEST" in text(confirm) and freeswitch.killed == []
    response = admin.post("/live/calls/live-1/end", {"cause": "MANAGER_REQUEST"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/live")
    assert freeswitch.killed == [("live-1", "MANAGER_REQUEST"), ("live-1-b", "MANAGER_REQUEST")]
    entry = audited("call.end")[-1]
    assert (entry.actor, entry.target, entry.detail["outcome"]) == ("acme_admin", "live-1", "ended")
    assert "已通知 FreeSWITCH 挂断通话 live-1" in text(admin.get("/live"))
    again = admin.post("/live/calls/live-1/end", {"cause": "MANAGER_REQUEST"})
    assert again.status_code == 302 and "FreeSWITCH 上没有这个通道" in text(admin.get("/live"))
    assert audited("call.end")[-1].detail["outcome"] == "gone"


def test_ending_a_call_of_another_tenant_or_as_auditor_is_refused(world, browser, freeswitch):
    freeswitch.add_channel("live-1")
    assert browser("globex_admin").post("/live/calls/live-1/end", {"cause": "MANAGER_REQUEST"}).status_code == 404
    assert browser("globex_admin").get("/live/calls/live-1/end").status_code == 404
    assert browser("auditor").post("/live/calls/live-1/end", {"cause": "MANAGER_REQUEST"}).status_code == 403
    assert browser("op").post("/live/calls/live-1/end", {"cause": "rm -rf"}).status_code == 400
    assert freeswitch.killed == [] and audited("call.end") == []


def test_an_unreachable_freeswitch_is_said_plainly(world, browser, freeswitch):
    freeswitch.close()
    op = browser("op")
    assert op.post("/live/calls/live-1/end", {"cause": "NORMAL_CLEARING"}).status_code == 302
    assert "无法连接 FreeSWITCH，通话未挂断" in text(op.get("/live"))
    assert audited("call.end")[-1].detail["outcome"] == "unreachable"


# --- recordings -------------------------------------------------------------------------------


def test_a_missing_recording_after_a_1_is_told_apart(world, browser, settings):
    op = browser("op")
    (settings.recording_dir / "acme-1.wav").unlink()
    page = text(op.get(f"/calls/{world.acme_call.id}"))
    assert "被叫按 1 同意录音，但录音文件缺失" in page
    assert "未询问录音" in text(op.get(f"/calls/{world.acme_blocked.id}"))
    CallRecord.update(recording_digit="2", recording_path="").where(CallRecord.id == world.globex_call.id).execute()
    assert "被叫按 2 拒绝录音" in text(op.get(f"/calls/{world.globex_call.id}"))
    CallRecord.update(recording_digit="", facts={"record_allowed": False}).where(
        CallRecord.id == world.globex_call.id).execute()
    assert "未开启录音" in text(op.get(f"/calls/{world.globex_call.id}"))
