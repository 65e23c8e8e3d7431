"""Every page through the HTTP stack: content, masking, audit, forms validated by models code."""
from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta

from models.calls.tables import CallRecord
from domain.clock import utcnow
from models.lists.tables import Consent, DoNotCall
from models.ledger.tables import LedgerEntry
from models.complaints.tables import AuditLog, Complaint
from models.tenancy.tables import Campaign, Tenant, TenantBan
from models.seats.tables import NumberLease, Seat


def audited(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def text(response) -> str:
    return response.get_data(as_text=True)


def call_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'href="/calls/(\d+)"', page)]


# --- dashboard ------------------------------------------------------------------------------


def test_dashboard_numbers_and_charts(world, browser):
    page = text(browser("op").get("/"))
    assert 'id="live-calls">1<' in page
    assert 'id="calls-today">3<' in page
    assert 'id="answer-rate">100.0%<' in page  # two admitted, two answered
    assert 'id="blocked-today">1<' in page
    assert 'id="charges-today">¥0.34<' in page
    assert page.count("<svg") == 2 and "今日每小时呼叫量" in page and "禁呼名单" in page
    assert "+8613800138001" not in page and "138****8001" in page  # live callee masked


def test_dashboard_for_a_tenant_admin_counts_only_their_calls(world, browser):
    page = text(browser("globex_admin").get("/"))
    assert 'id="calls-today">1<' in page and 'id="live-calls">0<' in page and 'id="charges-today">¥0.10<' in page


# --- call records ---------------------------------------------------------------------------


def test_call_list_filters(world, browser):
    b = browser("op")
    page = text(b.get("/calls"))
    assert len(call_ids(page)) == 3
    assert len(call_ids(text(b.get("/calls?tenant=globex")))) == 1
    blocked = text(b.get("/calls?reason=DNC"))
    assert len(call_ids(blocked)) == 1 and "139****9000" in blocked
    assert len(call_ids(text(b.get("/calls?result=completed")))) == 2
    assert len(call_ids(text(b.get("/calls?number=13700137000")))) == 1
    assert len(call_ids(text(b.get("/calls?seat=1001@acme.example.com")))) == 2
    assert len(call_ids(text(b.get("/calls?campaign=loans")))) == 1
    today = (utcnow() + timedelta(hours=8)).date()
    assert len(call_ids(text(b.get(f"/calls?from={today}&to={today}")))) == 3
    assert call_ids(text(b.get(f"/calls?from={today + timedelta(days=1)}"))) == []
    assert "无法识别的筛选条件" in text(b.get("/calls?number=abc&result=nonsense"))


def test_call_list_keyset_paging(world, browser):
    base = utcnow() - timedelta(days=2)
    CallRecord.insert_many([dict(tenant=world.acme.id, agent_uuid=f"bulk-{i}", callee_number="+8613800000000",
                                 created_at=base + timedelta(seconds=i // 3), decision="blocked",
                                 reasons=["DNC"], result="blocked") for i in range(120)]).execute()
    b = browser("op")
    seen, url, pages = [], "/calls?tenant=acme", 0
    while url:
        page = text(b.get(url))
        seen += call_ids(page)
        pages += 1
        url = page.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&") if 'id="next-page"' in page else None
    assert pages == 3 and len(seen) == 122 and len(set(seen)) == 122
    order = [CallRecord.get_by_id(i) for i in seen]
    assert all((a.created_at, a.id) > (b.created_at, b.id) for a, b in zip(order, order[1:]))


def test_numbers_are_masked_without_pii_and_reveals_are_audited(world, browser):
    plain = text(browser("acme_admin").get("/calls?reveal=1"))
    assert "138****8000" in plain and "+8613800138000" not in plain and "显示完整号码" not in plain
    assert audited("pii.view") == []
    pii = browser("acme_pii")
    assert "+8613800138000" not in text(pii.get("/calls"))
    revealed = text(pii.get("/calls?reveal=1"))
    assert "+8613800138000" in revealed
    entry = audited("pii.view")[0]
    assert entry.actor == "acme_pii" and entry.tenant_id == world.acme.id and entry.target == "calls"
    assert "+8613800138000" in text(pii.get(f"/calls/{world.acme_call.id}?reveal=1"))
    assert audited("pii.view")[1].target == f"call:{world.acme_call.id}"


def test_csv_export_is_scoped_masked_and_audited(world, browser):
    response = browser("acme_admin").get("/calls/export.csv?result=completed")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = text(response).lstrip("\ufeff").strip().splitlines()
    assert rows[0].startswith("created_at_local,tenant,seat")
    assert len(rows) == 2 and "138****8000" in rows[1] and "+8613800138000" not in rows[1]
    entry = audited("calls.export")[0]
    assert entry.actor == "acme_admin" and entry.detail["filters"] == {"result": "completed"}
    assert entry.detail["full_numbers"] is False
    full = text(browser("op").get("/calls/export.csv")).splitlines()
    assert len(full) == 4 and any("+8613700137000" in row for row in full)


def test_call_detail_shows_reasons_prompts_and_consent(world, browser):
    b = browser("op")
    blocked = text(b.get(f"/calls/{world.acme_blocked.id}"))
    assert "DNC" in blocked and "号码在平台或租户的禁呼名单上" in blocked and "A7" in blocked
    answered = text(b.get(f"/calls/{world.acme_call.id}"))
    assert "身份告知" in answered and "disclosure" not in answered and "1（同意）" in answered and "<audio" in answered
    assert b.get("/calls/999999").status_code == 404
    assert b.get("/calls/99999999999999999999").status_code == 404  # past the id column: not found, not a 500


def test_recording_playback_is_audited_and_confined_to_the_recording_dir(world, browser, settings, tmp_path):
    b = browser("op")
    response = b.get(f"/calls/{world.acme_call.id}/recording")
    assert response.status_code == 200 and response.data == b"RIFF----WAVEfmt acme"
    assert audited("recording.play")[0].target == f"call:{world.acme_call.id}"
    assert b.get(f"/calls/{world.acme_call.id}/recording", headers={"Range": "bytes=4-"}).status_code == 206
    assert len(audited("recording.play")) == 1  # a later range of the same playback
    outside = tmp_path / "secret.wav"
    outside.write_bytes(b"not a recording")
    for path in (str(outside), "../secret.wav", "missing.wav"):
        CallRecord.update(recording_path=path).where(CallRecord.id == world.acme_call.id).execute()
        assert b.get(f"/calls/{world.acme_call.id}/recording").status_code == 404, path
    assert b.get(f"/calls/{world.acme_blocked.id}/recording").status_code == 404


# --- money, seats, numbers ------------------------------------------------------------------


def test_money_page(world, browser):
    page = text(browser("acme_admin").get("/money"))
    assert 'id="balance">¥100.00<' in page and "¥1.20" in page  # held by the live call
    assert "¥98.80" in page and "充值" in page and "期末余额" in page
    assert "请选择一个租户" in text(browser("op").get("/money"))
    assert "¥100.00" in text(browser("op").get("/money?tenant=globex"))


def test_seats_and_numbers_pages(world, browser, db):
    NumberLease.update(paid_through=utcnow() - timedelta(days=1)).where(
        NumberLease.id == world.globex_number.id).execute()
    b = browser("op")
    seats = text(b.get("/seats"))
    assert "1001@acme.example.com" in seats and "通话中" in seats and "2001@globex.example.com" in seats
    numbers = text(b.get("/numbers"))
    assert 'class="expiring" data-number="+862150000001"' in numbers  # 3 days left
    assert 'class="lapsed" data-number="+862150000002"' in numbers
    assert "+862150000002" not in text(browser("acme_admin").get("/numbers"))


# --- campaigns ------------------------------------------------------------------------------


def test_approval_queue_highlights_hits_and_only_operators_decide(world, browser):
    op = browser("op")
    queue = text(op.get("/campaigns"))
    assert '<mark class="hit">贷款</mark>' in queue
    detail = text(op.get(f"/campaigns/{world.globex_campaign.id}"))
    assert '<mark class="hit">贷款</mark>' in detail and 'id="approve"' in detail
    assert 'id="approve"' not in text(browser("globex_admin").get(f"/campaigns/{world.globex_campaign.id}"))
    response = op.post(f"/campaigns/{world.globex_campaign.id}/review", {"decision": "approve", "note": "ok"})
    assert response.status_code == 302
    assert Campaign.get_by_id(world.globex_campaign.id).status == "approved"
    assert audited("campaign.approve")[0].actor == "op"
    again = op.post(f"/campaigns/{world.globex_campaign.id}/review", {"decision": "approve"})
    assert again.status_code == 400 and "不能改为 approved" in text(again)
    assert op.post(f"/campaigns/{world.acme_campaign.id}/review", {"decision": "reject"}).status_code == 302
    assert Campaign.get_by_id(world.acme_campaign.id).status == "rejected"


def test_tenant_admin_submits_a_script_for_their_own_tenant(world, browser):
    b = browser("acme_admin")
    response = b.post("/campaigns", {"tenant": "globex", "code": "autumn", "script": "博彩优惠", "record": "1"})
    assert response.status_code == 302
    campaign = Campaign.get(Campaign.code == "autumn")
    assert campaign.tenant_id == world.acme.id and campaign.status == "review" and campaign.screening_hits
    bad = b.post("/campaigns", {"code": "autumn", "script": "x"})
    assert bad.status_code == 400 and "已有话术" in text(bad)


# --- consent and do-not-call ----------------------------------------------------------------


def test_consent_add_and_import_report_bad_rows(world, browser):
    b = browser("acme_admin")
    assert b.post("/consent", {"number": "13800001111", "source": "web"}).status_code == 302
    bad = b.post("/consent", {"number": "12", "source": "web"})
    assert bad.status_code == 400 and "号码 &#39;12&#39; 无效" in text(bad)
    csv_text = "number,source\n13800002222,web\nnot-a-number,web\n13800003333,\n"
    response = b.post("/consent/import", {"file": (io.BytesIO(csv_text.encode()), "c.csv")},
                      token_from="/consent", content_type="multipart/form-data")
    page = text(response)
    assert response.status_code == 422 and "已导入 1 行" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page and "同意来源不能为空" in page
    assert Consent.select().where(Consent.tenant == world.acme).count() == 3
    strict = b.post("/consent/import", {"file": (io.BytesIO(csv_text.encode()), "c.csv"), "strict": "1"},
                    content_type="multipart/form-data")
    assert "没有写入任何数据" in text(strict)
    assert Consent.select().where(Consent.tenant == world.acme).count() == 3
    header = b.post("/consent/import", {"file": (io.BytesIO(b"phone\n1\n"), "c.csv")},
                    content_type="multipart/form-data")
    assert header.status_code == 400 and "缺少列" in text(header)


def test_dnc_add_import_and_scope(world, browser):
    op = browser("op")
    assert op.post("/dnc", {"tenant": "", "number": "13811112222", "reason": "regulator"}).status_code == 302
    assert DoNotCall.get(DoNotCall.number == "+8613811112222").scope == "platform"
    acme = browser("acme_admin")
    assert acme.post("/dnc", {"tenant": "", "number": "13811113333"}).status_code == 302
    assert DoNotCall.get(DoNotCall.number == "+8613811113333").tenant_id == world.acme.id
    response = acme.post("/dnc/import", {"file": (io.BytesIO(b"number,reason\n13811114444,x\nbad,y\n"), "d.csv")},
                         content_type="multipart/form-data")
    assert response.status_code == 422 and "<td>3</td>" in text(response)
    page = text(acme.get("/dnc"))
    assert "138****4444" in page and "138****2222" not in page and "135****5000" not in page


# --- complaints -----------------------------------------------------------------------------


def test_complaint_puts_the_number_on_the_dnc_list_and_counts_down(world, browser):
    b = browser("acme_admin")
    response = b.post("/complaints", {"number": "13822223333", "channel": "12321", "text": "骚扰"})
    assert response.status_code == 302
    complaint = Complaint.get(Complaint.number == "+8613822223333")
    assert complaint.tenant_id == world.acme.id
    assert complaint.due_at - complaint.received_at == timedelta(hours=2)
    entry = DoNotCall.get(DoNotCall.number == "+8613822223333")
    assert entry.tenant_id == world.acme.id and entry.source == "complaint"
    page = text(b.get("/complaints"))
    assert "剩余 1:59" in page or "剩余 2:00" in page
    bad = b.post("/complaints", {"number": "13822223333", "channel": "email"})
    assert bad.status_code == 400 and "投诉渠道" in text(bad)
    op_page = text(browser("op").get("/complaints"))
    assert f'class="overdue" data-id="{world.globex_complaint.id}"' in op_page and "已超时" in op_page
    answer = b.post(f"/complaints/{complaint.id}/answer", {"answer": "已加入禁呼并致歉"}, token_from="/complaints")
    assert answer.status_code == 302 and Complaint.get_by_id(complaint.id).answered_at is not None
    assert "已加入禁呼并致歉" in text(b.get("/complaints?show=all"))


# --- tenants and provisioning ---------------------------------------------------------------


def test_provisioning_forms_write_through_models(world, browser):
    b = browser("op")
    response = b.post("/tenants", {"code": "initech", "name": "Initech", "display_name": "Initech",
                                   "hotline": "4008003000", "seats": "2", "rate": "0.12", "seat_rent": "50"})
    assert response.status_code == 302
    tenant = Tenant.get(Tenant.code == "initech")
    assert (tenant.rate_out_fen, tenant.seat_rent_fen, tenant.status) == (12, 5000, "pending_review")
    assert b.post("/tenants/initech/status", {"status": "active"}).status_code == 302
    assert b.post("/tenants/initech/topup", {"amount": "250.5"}).status_code == 302
    seat = b.post("/tenants/initech/seats", {"address": "3001@initech.example.com", "role": "agent"})
    assert seat.status_code == 200 and 'id="issued-password"' in text(seat), text(seat)[:2000]
    # the SIP password is on this response only (D7): the seat keeps its a1-hash, never the password
    shown = re.search(r'id="issued-password">[^<]*<code>([A-Za-z0-9]{20})</code>', text(seat)).group(1)
    stored = Seat.get(Seat.sip_user == "3001")
    assert stored.sip_a1_hash == hashlib.md5(f"3001:initech.example.com:{shown}".encode()).hexdigest()
    assert shown not in text(b.get("/tenants/initech"))
    assert b.post("/tenants/initech/numbers", {"number": "02150000009", "monthly_fee": "30"}).status_code == 302
    assert b.post("/tenants/initech/ban", {"function": "recording", "until": "", "reason": "test"}).status_code == 302
    tenant = Tenant.get_by_id(tenant.id)
    assert tenant.status == "active"
    topup = LedgerEntry.get((LedgerEntry.tenant == tenant) & (LedgerEntry.kind == "topup"))
    assert topup.amount_fen == 25050 and topup.actor == "op"
    assert tenant.balance_fen == sum(e.amount_fen for e in LedgerEntry.select().where(LedgerEntry.tenant == tenant))
    assert Seat.select().where(Seat.tenant == tenant).count() == 1
    assert NumberLease.get(NumberLease.number == "+862150000009").monthly_fee_fen == 3000
    page = text(b.get("/tenants/initech"))
    assert "录音" in page and "运营解除前" in page
    assert b.post("/tenants/initech/unban", {"function": "recording"}).status_code == 302
    assert TenantBan.get(TenantBan.tenant == tenant).lifted_at is not None


def test_provisioning_errors_are_shown_by_the_form_and_nothing_is_written(world, browser):
    b = browser("op")
    tenants, ledger, seats, leases = (Tenant.select().count(), LedgerEntry.select().count(),
                                      Seat.select().count(), NumberLease.select().count())
    cases = [
        ("/tenants", {"code": "bad code!", "name": "x", "display_name": "x", "hotline": "4008003000",
                      "seats": "1", "rate": "1"}, "租户代码 &#39;bad code!&#39; 无效"),
        ("/tenants", {"code": "ok", "name": "x", "display_name": "x", "hotline": "123", "seats": "1",
                      "rate": "1"}, "号码 &#39;123&#39; 无效"),
        ("/tenants", {"code": "ok", "name": "x", "display_name": "x", "hotline": "4008003000", "seats": "1",
                      "rate": "1.234"}, "外呼费率：请输入以元为单位的金额"),
        ("/tenants/acme/topup", {"amount": "-5"}, "以元为单位的金额"),
        ("/tenants/acme/topup", {"amount": "0"}, "金额 必须在 1 到"),
        ("/tenants/acme/topup", {"amount": "99999999999"}, "金额 必须在 1 到 1000000000000 分之间"),
        ("/tenants/acme/seats", {"address": "2009@acme.example.com", "days": "99999999"},
         "天数 必须在 1 到 3660 天之间"),
        ("/tenants/acme/numbers", {"number": "02150000009", "monthly_fee": "99999999"},
         "月租 必须在 0 到 100000000 分之间"),
        ("/tenants/acme/ban", {"function": "outbound", "until": "9999-12-31T23:59"}, "必须在 1970-01-01 到"),
        ("/tenants/acme/ban", {"function": "outbound", "until": "0001-01-01T00:00"}, "必须在 1970-01-01 到"),
        ("/tenants/acme/seats", {"address": "bad user!"}, "应为 用户 或 用户@域名"),
        ("/tenants/acme/seats", {"address": "2010@globex.example.com"}, "属于其他租户"),
        ("/tenants/globex/seats", {"address": "2002@globex.example.com"}, None),
        ("/tenants/globex/seats", {"address": "2003@globex.example.com"}, "已用完购买的 2 个坐席"),
        ("/tenants/acme/numbers", {"number": "02150000002"}, "已租给其他租户"),
        ("/tenants/acme/ban", {"function": "outbound", "until": "2000-01-01T00:00"}, "封禁截止时间已经过去"),
        ("/tenants/acme/status", {"status": "pending_review"}, "不能从 active 变为"),
    ]
    for url, data, message in cases:
        response = b.post(url, data)
        if message is None:
            assert response.status_code == 200 and "issued-password" in text(response)  # the password, once
            seats += 1
            continue
        assert response.status_code == 400, url
        page = text(response)
        assert message in page, (url, message)
        assert 'class="error"' in page
    assert (Tenant.select().count(), LedgerEntry.select().count(), Seat.select().count(),
            NumberLease.select().count()) == (tenants, ledger, seats, leases)
    assert TenantBan.select().count() == 0


# --- audit log ------------------------------------------------------------------------------


def test_audit_log_page(world, browser):
    browser("op").get("/calls/export.csv")
    page = text(browser("auditor").get("/audit?action=calls.export"))
    assert "calls.export" in page and "op" in page
    acme = text(browser("acme_admin").get("/audit"))
    assert "创建租户" in acme and "globex" not in acme
