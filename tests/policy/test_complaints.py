"""D5 complaints and the A15 complaint-ratio guard, through the models and the CLI."""
from datetime import timedelta

import pytest

from fs_app.admission import evaluate
from fs_app.policy import CallRequest
from models import AuditLog, CallRecord, Complaint, DoNotCall, TenantBan
from models.complaints import complaints
from models.tenancy import tenants
from models.complaints.complaints import GUARD_ACTOR, GuardLimits
from domain.errors import ForeignReference

from policy_world import CALLEE, NOW, SEAT, make_tenant

LIMITS = GuardLimits(ratio_per_1000=1.0, min_count=3, window_days=7)
NUMBERS = ["+8613911110001", "+8613911110002", "+8613911110003", "+8613911110004", "+8613911110005"]


def connected_calls(tenant, count, at=NOW - timedelta(days=1)):
    rows = [dict(agent_uuid=f"c{i}", tenant=tenant.id, decision="allowed", result="completed", created_at=at,
                 answered_at=at, reasons=[], prompts=[]) for i in range(count)]
    for start in range(0, len(rows), 500):
        CallRecord.insert_many(rows[start:start + 500]).execute()


def file(number, at=NOW, code="acme", **kwargs):
    return complaints.file_complaint(code, number, channel="12321", received_at=at, limits=LIMITS, **kwargs)


def outbound_bans(tenant):
    return list(TenantBan.select().where((TenantBan.tenant == tenant) & (TenantBan.function == "outbound")))


def call_of(tenant, agent_uuid, callee_uuid=None):
    return CallRecord.create(tenant=tenant, agent_uuid=agent_uuid, callee_uuid=callee_uuid, callee_number=CALLEE)


def test_a_complaint_is_logged_with_deadline_and_puts_the_number_on_the_tenant_dnc(db, settings):
    tenant = make_tenant()
    call_of(tenant, "call-9")
    filed = file(CALLEE, text="打扰", call_uuid="call-9")
    complaint = filed.complaint
    assert (complaint.channel, complaint.due_at, complaint.call_uuid) == ("12321", NOW + timedelta(hours=2), "call-9")
    entry = DoNotCall.get(DoNotCall.number == CALLEE)
    assert (entry.scope, entry.tenant_id, entry.source) == ("tenant", tenant.id, "complaint")
    request = CallRequest(call_uuid="x", dialled=CALLEE, seat_address=SEAT)
    assert evaluate(request, NOW + timedelta(hours=1), settings).codes == ("DNC",)
    assert not filed.guard.over and filed.guard.ban is None


@pytest.mark.parametrize("connected, banned", [
    (0, True), (2999, True), (3000, False),  # 3 per 3000 is exactly 1 per 1000: not over
])
def test_guard_ratio_edge(db, connected, banned):
    tenant = make_tenant()
    connected_calls(tenant, connected)
    results = [file(n).guard for n in NUMBERS[:3]]
    assert [r.ban is not None for r in results] == [False, False, banned]
    assert len(outbound_bans(tenant)) == int(banned)


def test_guard_needs_the_minimum_count_and_bans_once_audited(db, settings):
    tenant = make_tenant()
    assert [file(n).guard.ban for n in NUMBERS[:2]] == [None, None]  # ratio infinite, but only 2
    ban = file(NUMBERS[2]).guard.ban
    assert ban is not None and ban.until is None and ban.created_by == GUARD_ACTOR
    assert file(NUMBERS[3]).guard.ban is None  # not duplicated
    assert len(outbound_bans(tenant)) == 1
    logged = AuditLog.get((AuditLog.action == "tenant.ban") & (AuditLog.actor == GUARD_ACTOR))
    assert logged.detail["complaints"] == 3 and logged.detail["function"] == "outbound"
    request = CallRequest(call_uuid="x", dialled=CALLEE, seat_address=SEAT)
    decision = evaluate(request, NOW + timedelta(days=30), settings)
    assert "FUNCTION_BANNED" in decision.codes  # until an operator reviews: no end time


def test_guard_window(db):
    tenant = make_tenant()
    file(NUMBERS[0], at=NOW - timedelta(days=7))  # exactly 7 days old at NOW: outside
    file(NUMBERS[1], at=NOW - timedelta(days=7) + timedelta(seconds=1))
    file(NUMBERS[2], at=NOW - timedelta(hours=1))
    result = complaints.evaluate_complaint_guard(tenant, NOW, LIMITS)
    assert (result.complaints, result.over, result.ban) == (2, False, None)
    file(NUMBERS[3], at=NOW)
    assert outbound_bans(tenant)


def test_periodic_job_and_operator_review(db, settings):
    acme = make_tenant()
    quiet = make_tenant("quiet", domain="quiet.example", numbers=("+861061234599",))
    for n in NUMBERS[:3]:
        Complaint.create(tenant=acme, number=n, channel="hotline", received_at=NOW - timedelta(days=1),
                         due_at=NOW - timedelta(days=1) + timedelta(hours=2))
    Complaint.create(tenant=quiet, number=NUMBERS[0], channel="hotline", received_at=NOW - timedelta(days=1),
                     due_at=NOW)
    connected_calls(quiet, 5000)
    job_settings = settings.replace(complaint_min_count="3")
    results = complaints.run_complaint_guard(NOW, job_settings.complaint_guard_limits())
    assert [(r.tenant_code, r.complaints, r.ban is not None) for r in results] == [("acme", 3, True), ("quiet", 1, False)]
    assert complaints.run_complaint_guard(NOW, job_settings.complaint_guard_limits())[0].ban is None  # idempotent
    # an operator reviews and lifts the ban: the old complaints do not ban again
    tenants.lift_ban("acme", "outbound", actor="operator", now=NOW)
    lifted_at = TenantBan.get(TenantBan.tenant == acme).lifted_at
    later = max(NOW, lifted_at) + timedelta(minutes=1)
    assert not complaints.run_complaint_guard(later, job_settings.complaint_guard_limits())[0].over
    for i, n in enumerate(NUMBERS[:3]):
        file(n, at=later + timedelta(seconds=i + 1))
    assert len(outbound_bans(acme)) == 2


def test_answers_and_overdue(db):
    make_tenant()
    early = file(NUMBERS[0], at=NOW - timedelta(hours=3)).complaint  # due NOW - 1 h
    fresh = file(NUMBERS[1], at=NOW - timedelta(hours=1)).complaint  # due NOW + 1 h
    late = file(NUMBERS[2], at=NOW - timedelta(hours=5)).complaint
    complaints.answer_complaint(late.id, "已处理", at=NOW - timedelta(hours=2))  # 1 h after its deadline
    overdue = {c.id for c, flag in complaints.list_complaints(overdue_only=True, now=NOW)}
    assert overdue == {early.id, late.id}
    everything = {c.id: flag for c, flag in complaints.list_complaints(now=NOW)}
    assert everything == {early.id: True, fresh.id: False, late.id: True}
    assert {c.id: flag for c, flag in complaints.list_complaints(now=NOW + timedelta(hours=1, seconds=1))}[fresh.id]
    with pytest.raises(complaints.InvalidInput):
        complaints.answer_complaint(late.id, "again")
    with pytest.raises(complaints.InvalidInput):
        complaints.answer_complaint(fresh.id, "  ")


def test_a_complaint_names_only_a_call_of_its_own_tenant(db):
    acme = make_tenant()
    other = make_tenant("other", domain="other.example", numbers=("+861061234599",))
    call_of(acme, "acme-agent", "acme-callee")
    call_of(other, "other-agent", "other-callee")
    assert file(NUMBERS[0], call_uuid="acme-callee").complaint.call_uuid == "acme-callee"  # either leg
    assert file(NUMBERS[1], call_uuid=" acme-agent ").complaint.call_uuid == "acme-agent"
    before = (Complaint.select().count(), DoNotCall.select().count(), AuditLog.select().count())
    for foreign in ("other-agent", "other-callee", "no-such-call"):  # another tenant's or none: one answer
        with pytest.raises(ForeignReference, match=f"no call '{foreign}' of tenant acme") as refused:
            file(NUMBERS[2], call_uuid=foreign)
        assert (refused.value.kind, refused.value.value, refused.value.owner) == ("call", foreign, "acme")
    assert (Complaint.select().count(), DoNotCall.select().count(), AuditLog.select().count()) == before


def test_complaint_cli(db, cli):
    tenant = make_tenant()
    call_of(make_tenant("other", domain="other.example", numbers=("+861061234599",)), "theirs")
    refused = cli("complaint", "add", "acme", "13911110001", "--channel", "hotline", "--call", "theirs")
    assert (refused.code, refused.err) == (2, "fsapp: no call 'theirs' of tenant acme: check the call id\n")
    assert Complaint.select().count() == 0
    call_of(tenant, "abc")
    added = cli("complaint", "add", "acme", "13911110001", "--channel", "anti_fraud_app", "--text", "骚扰",
                "--call", "abc")
    assert added.code == 0, added
    assert "+8613911110001 is on the tenant's do-not-call list" in added.out and "answer due" in added.out
    assert cli("complaint", "add", "acme", "13911110001", "--channel", "email").code == 2
    assert cli("complaint", "add", "nosuch", "13911110001", "--channel", "hotline").code == 2
    assert cli("complaint", "add", "acme", "123", "--channel", "hotline").code == 2
    for n in ("13911110002", "13911110003"):
        last = cli("complaint", "add", "acme", n, "--channel", "regulator")
    assert "outbound calling banned until an operator reviews it" in last.out
    listed = cli("complaint", "list", "--tenant", "acme", "--format", "csv")
    assert listed.code == 0 and listed.out.count("\n") == 4 and "anti_fraud_app" in listed.out
    assert cli("complaint", "list", "--overdue").out.count("\n") == 1  # header only: nothing overdue yet
    complaint_id = Complaint.select().order_by(Complaint.id).first().id
    answered = cli("complaint", "answer", str(complaint_id), "--text", "已致歉并加入禁呼")
    assert answered.code == 0 and "answered" in answered.out
    assert cli("complaint", "answer", str(complaint_id), "--text", "again").code == 2
    assert cli("complaint", "answer", "999999", "--text", "x").code == 2


def test_guard_and_hold_expiry_run_from_fsapp_jobs(db, cli):
    tenant = make_tenant()
    for n in NUMBERS[:3]:
        Complaint.create(tenant=tenant, number=n, channel="hotline", received_at=NOW - timedelta(hours=3),
                         due_at=NOW - timedelta(hours=1))
    result = cli("jobs", "run", "--only", "complaint_guard", "--at", "2026-11-23T02:00:00Z")
    assert result.code == 0, result
    assert "complaint_guard: 1 tenant(s) checked, 1 banned" in result.out
    assert outbound_bans(tenant)
    expired = cli("jobs", "run", "--only", "expire_holds", "--at", "2026-11-23T02:00:00Z")
    assert expired.code == 0 and "expire_holds: 0 lapsed hold(s) released" in expired.out
