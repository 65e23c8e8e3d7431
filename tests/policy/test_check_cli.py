"""`fsapp check`: the dry run operators use to answer "why was this call blocked?"."""
import json

from models import CallRecord, Hold
from models.tenancy import campaigns

from policy_world import BEIJING_NUMBER, CALLEE, SEAT, make_tenant

AT = "2026-11-23T10:00:00+08:00"  # = policy_world.NOW


def test_allowed_call_exit_0_with_caller_id_and_duration(db, cli):
    make_tenant()
    result = cli("check", "--seat", SEAT, "--to", "13800138000", "--at", AT)
    assert result.code == 0, result
    assert result.out.startswith("ALLOWED: 1001@acme.example -> +8613800138000 at 2026-11-23 02:00:00 UTC")
    assert f"caller ID: {BEIJING_NUMBER}" in result.out
    assert "max duration: 60000 s" in result.out and "hold at admission: 10 fen" in result.out


def test_blocked_call_exit_3_with_every_reason_explained(db, cli):
    make_tenant()
    result = cli("check", "--seat", SEAT, "--to", "13911112222", "--at", "2026-11-23T22:00:00+08:00")
    assert result.code == 3, result
    assert result.out.startswith("BLOCKED")
    assert "NO_CONSENT [A7]" in result.out and "OUTSIDE_CALLING_HOURS [A8]" in result.out
    assert "22:00:00 Asia/Shanghai" in result.out
    assert "The tenant holds no valid prior-consent record" in result.out
    assert "租户没有该号码有效的事先同意记录" in result.out
    assert "caller ID: (none)" in result.out


def test_json_output(db, cli):
    make_tenant()
    result = cli("check", "--seat", SEAT, "--to", CALLEE, "--at", AT, "--json")
    assert result.code == 0
    document = json.loads(result.out)
    assert document["allowed"] is True and document["reasons"] == []
    assert document["caller_id"] == BEIJING_NUMBER and document["max_duration_s"] == 60_000
    assert document["at"] == "2026-11-23T02:00:00Z"
    assert document["facts"]["debug"]["queries"] == 7
    blocked = json.loads(cli("check", "--seat", SEAT, "--to", "12345", "--at", AT, "--json").out)
    assert [r["code"] for r in blocked["reasons"]] == ["INVALID_NUMBER"]
    assert blocked["reasons"][0]["explanation_zh"]


def test_unknown_seat_is_a_blocked_decision_not_bad_input(db, cli):
    make_tenant()
    result = cli("check", "--seat", "9999@acme.example", "--to", CALLEE, "--at", AT)
    assert result.code == 3 and "SEAT_UNKNOWN" in result.out


def test_bad_input_exit_2(db, cli):
    make_tenant()
    malformed = cli("check", "--seat", "not-an-address", "--to", CALLEE, "--at", AT)
    assert malformed.code == 2 and "USER@DOMAIN" in malformed.err
    bad_time = cli("check", "--seat", SEAT, "--to", CALLEE, "--at", "yesterday-ish")
    assert bad_time.code == 2 and "ISO 8601" in bad_time.err
    assert cli("check", "--to", CALLEE).code == 2


def test_check_writes_nothing(db, cli):
    make_tenant()
    assert cli("check", "--seat", SEAT, "--to", CALLEE, "--at", AT).code == 0
    assert CallRecord.select().count() == 0 and Hold.select().count() == 0


def test_only_an_operator_review_approves_a_script(db, cli, tmp_path, settings):
    """A11/A12: the CLI is the operator's tool; tenants' scripts never approve themselves."""
    make_tenant()
    script = tmp_path / "script.txt"
    script.write_text("您好，这里是秋季回访。", encoding="utf-8")
    assert cli("campaign", "add", "acme", "autumn", "--script-file", str(script)).code == 0
    check = ("check", "--seat", SEAT, "--to", CALLEE, "--at", AT, "--campaign", "autumn")
    blocked = cli(*check)
    assert blocked.code == 3 and "SCRIPT_NOT_APPROVED" in blocked.out and "autumn script is review" in blocked.out
    assert cli("campaign", "approve", "acme", "autumn").code == 0
    assert cli(*check).code == 0
    script.write_text("您好，这里是秋季贷款推荐。", encoding="utf-8")  # a changed script goes back to review
    assert cli("campaign", "update", "acme", "autumn", "--script-file", str(script)).code == 0
    assert "SCRIPT_NOT_APPROVED" in cli(*check).out
    # a screening hit is never approved automatically, even with auto-approval of clean scripts on
    hit = campaigns.add_campaign("acme", "loans", script="低息贷款", auto_approve_clean=True,
                                    keyword_categories=settings.screening_keywords)
    assert hit.status == "review" and "restricted_industry" in hit.screening_hits
    clean = campaigns.add_campaign("acme", "clean", script="回访", auto_approve_clean=True,
                                      keyword_categories=settings.screening_keywords)
    assert clean.status == "approved"


def test_restricted_industry_needs_operator_approval(db, cli):
    make_tenant(industry="loans")
    check = ("check", "--seat", SEAT, "--to", CALLEE, "--at", AT)
    result = cli(*check)
    assert result.code == 3 and "INDUSTRY_RESTRICTED" in result.out
    assert cli("tenant", "set", "acme", "--industry-approved", "yes").code == 0
    assert cli(*check).code == 0


def test_emergency_number_through_check(db, cli):
    make_tenant(balance=0)
    result = cli("check", "--seat", SEAT, "--to", "110", "--at", "2026-11-23T23:30:00+08:00")
    assert result.code == 0, result
    assert "emergency number" in result.out and "not limited by balance" in result.out
