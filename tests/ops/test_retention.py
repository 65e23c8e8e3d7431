"""Retention (RULEBOOK D1, D2) on SQLite and PostgreSQL: boundaries, the consent exception,
dry runs, recordings only inside recording_dir, audit entries, the CLI and the periodic jobs."""
from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest

import models
from fs_app import jobs
from models import (
    AdminUser, ApiToken, AuditLog, CallRecord, Campaign, Complaint, Consent, DoNotCall, Hold, LedgerEntry,
    NumberLease, Seat, Tenant, TenantBan,
)
from models import retention
from models.ledger import posting
from domain.clock import utcnow

NOW = datetime(2026, 11, 23, 4, 0, 0)
CALLEE = "+8613812348000"
DIALLED = "13812348000"
MASKED = "138****8000"


def snapshot():
    return {m.__name__: sorted(tuple(sorted(r.items())) for r in m.select().dicts().iterator())
            for m in models.ALL_MODELS}


def make_tenant(code: str, **fields) -> Tenant:
    return Tenant.create(code=code, name=f"{code} Ltd", display_name=code, hotline="+864008123456",
                         status=fields.pop("status", "active"), **fields)


def make_call(tenant, created_at, callee=CALLEE, dialled=DIALLED, **fields) -> CallRecord:
    fields.setdefault("facts", {"callee": callee, "as_dialled": dialled, "seen": [f"dnc check {callee}"],
                                "seat": "1001@pbx"})
    return CallRecord.create(agent_uuid=f"a-{CallRecord.select().count()}", tenant=tenant, callee_number=callee,
                             dialled=dialled, created_at=created_at, **fields)


def reload(record):
    return type(record).get_by_id(record.id)


def audits(action: str) -> list[AuditLog]:
    return list(AuditLog.select().where(AuditLog.action == action).order_by(AuditLog.id))


def age(path: Path, moment: datetime) -> None:
    stamp = (moment - datetime(1970, 1, 1)).total_seconds()
    os.utime(path, (stamp, stamp))


# --- D1: masking -------------------------------------------------------------------------------

def test_records_are_masked_from_exactly_the_retention_age(db):
    acme = make_tenant("acme")
    exactly = make_call(acme, NOW - timedelta(days=30))
    older = make_call(acme, NOW - timedelta(days=45), callee="+8613900001111", dialled="+86 139 0000 1111")
    younger = make_call(acme, NOW - timedelta(days=30) + timedelta(seconds=1))

    report = retention.mask_old_numbers(NOW, 30)

    assert report.counts["call_records_masked"] == 2
    masked = reload(exactly)
    assert (masked.callee_number, masked.dialled, masked.numbers_masked) == (MASKED, MASKED, True)
    assert masked.facts == {"callee": MASKED, "as_dialled": MASKED, "seen": [f"dnc check {MASKED}"],
                            "seat": "1001@pbx"}
    # irreversible: the middle digits are nowhere in the row any more
    assert "1234" not in json.dumps(CallRecord.select().where(CallRecord.id == exactly.id).dicts().get(), default=str)
    assert reload(older).callee_number == "139****1111"
    untouched = reload(younger)
    assert (untouched.callee_number, untouched.dialled, untouched.numbers_masked) == (CALLEE, DIALLED, False)
    assert untouched.facts["callee"] == CALLEE

    again = retention.mask_old_numbers(NOW, 30)
    assert again.counts["call_records_masked"] == 0  # masked once, never re-masked


def test_numbers_the_tenant_keeps_as_customers_are_not_masked(db):
    acme, bolt = make_tenant("acme"), make_tenant("bolt")
    old = NOW - timedelta(days=60)
    consent = Consent.create(tenant=acme, number=CALLEE, source="web form", obtained_at=old)
    Consent.create(tenant=acme, number="+8613900002222", source="web form", revoked_at=NOW - timedelta(days=1))
    Consent.create(tenant=acme, number="+8613900003333", source="web form", expires_at=NOW - timedelta(seconds=1))
    customer = make_call(acme, old)
    other_tenant = make_call(bolt, old)  # acme's consent does not make it bolt's customer
    revoked = make_call(acme, old, callee="+8613900002222", dialled="13900002222")
    expired = make_call(acme, old, callee="+8613900003333", dialled="13900003333")
    unknown_seat = make_call(None, old)  # blocked before the tenant was known: nobody's customer

    report = retention.mask_old_numbers(NOW, 30)

    assert report.counts == {"call_records_masked": 4, "call_records_kept_for_consent": 1, "holds_masked": 0}
    assert reload(customer).callee_number == CALLEE and not reload(customer).numbers_masked
    for record in (other_tenant, revoked, expired, unknown_seat):
        assert reload(record).numbers_masked, record

    # once the customer withdraws, the next run masks the record
    Consent.update(revoked_at=NOW).where(Consent.id == consent.id).execute()
    report = retention.mask_old_numbers(NOW, 30)
    assert report.counts["call_records_masked"] == 1 and reload(customer).callee_number == MASKED


def test_do_not_call_entries_complaints_and_live_holds_keep_full_numbers(db):
    acme = make_tenant("acme")
    old = NOW - timedelta(days=90)
    DoNotCall.create(scope="tenant", tenant=acme, number=CALLEE, source="optout", created_at=old)
    DoNotCall.create(scope="platform", number=CALLEE, source="complaint", created_at=old)
    Complaint.create(tenant=acme, number=CALLEE, channel="12321", received_at=old, due_at=old)
    released = Hold.create(call_uuid="h-old", tenant=acme, callee_number=CALLEE, created_at=old,
                           expires_at=old + timedelta(minutes=2), released_at=old + timedelta(minutes=1))
    live = Hold.create(call_uuid="h-live", tenant=acme, callee_number=CALLEE, created_at=old,
                       expires_at=NOW + timedelta(minutes=1))
    make_call(acme, old)

    report = retention.mask_old_numbers(NOW, 30)

    assert report.counts["holds_masked"] == 1
    assert reload(released).callee_number == MASKED
    assert reload(live).callee_number == CALLEE  # a call still up (its lease is heartbeated)
    assert {d.number for d in DoNotCall.select()} == {CALLEE}
    assert Complaint.get().number == CALLEE


def test_dry_run_reports_the_same_counts_and_changes_nothing(db, tmp_path):
    acme = make_tenant("acme")
    make_call(acme, NOW - timedelta(days=31))
    make_call(acme, NOW - timedelta(days=29))
    before = snapshot()

    preview = retention.mask_old_numbers(NOW, 30, dry_run=True)

    assert snapshot() == before
    real = retention.mask_old_numbers(NOW, 30)
    assert preview.counts == real.counts and preview.dry_run and not real.dry_run


def test_masking_writes_an_audit_entry_only_when_it_acts_unless_asked(db):
    acme = make_tenant("acme")
    retention.mask_old_numbers(NOW, 30)
    assert audits("retention.mask_numbers") == []  # the every-minute job stays quiet when idle
    make_call(acme, NOW - timedelta(days=40))
    retention.mask_old_numbers(NOW, 30)
    entry, = audits("retention.mask_numbers")
    assert entry.actor == "retention" and entry.detail["counts"]["call_records_masked"] == 1
    assert entry.detail["cutoff"] == "2026-10-24T04:00:00Z"
    retention.mask_old_numbers(NOW, 30, always_audit=True)
    assert len(audits("retention.mask_numbers")) == 2


# --- recordings ---------------------------------------------------------------------------------

@pytest.fixture
def recording_dir(tmp_path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    return directory


def test_old_recordings_are_deleted_only_inside_recording_dir(db, tmp_path, recording_dir):
    acme = make_tenant("acme")
    old, young = NOW - timedelta(days=180), NOW - timedelta(days=179, hours=23)
    (recording_dir / "2026" / "05").mkdir(parents=True)
    absolute = recording_dir / "2026" / "05" / "a.wav"
    relative = recording_dir / "b.wav"
    kept = recording_dir / "young.wav"
    outside = tmp_path / "elsewhere" / "secret.wav"
    outside.parent.mkdir()
    link = recording_dir / "link.wav"
    for path in (absolute, relative, kept, outside):
        path.write_bytes(b"RIFF")
    link.symlink_to(outside)
    calls = {
        "absolute": make_call(acme, old, recording_path=str(absolute)),
        "relative": make_call(acme, old, recording_path="b.wav"),
        "traversal": make_call(acme, old, recording_path="../elsewhere/secret.wav"),
        "outside": make_call(acme, old, recording_path=str(outside)),
        "symlink": make_call(acme, old, recording_path=str(link)),
        "missing": make_call(acme, old, recording_path=str(recording_dir / "gone.wav")),
        "young": make_call(acme, young, recording_path=str(kept)),
    }
    orphan_old = recording_dir / "crashed-call.wav"
    orphan_young = recording_dir / "in-progress.wav"
    not_audio = recording_dir / "notes.txt"
    for path in (orphan_old, orphan_young, not_audio, absolute, relative, outside, kept):
        path.write_bytes(b"RIFF") if not path.exists() else None
    for path in (orphan_old, not_audio, outside, absolute, relative):
        age(path, old)
    stale_directory = recording_dir / "2025" / "11"
    stale_directory.mkdir(parents=True)
    age(stale_directory, old)

    report = retention.purge_old_recordings(NOW, 180, recording_dir)

    assert report.counts == {"recordings_deleted": 2, "recordings_missing": 1, "recording_paths_cleared": 3,
                             "recordings_outside_dir": 3, "orphan_recordings_deleted": 1}
    assert not absolute.exists() and not relative.exists() and not orphan_old.exists()
    assert outside.exists() and link.is_symlink()  # nothing outside recording_dir is touched
    assert kept.exists() and orphan_young.exists() and not_audio.exists()
    assert not stale_directory.exists()  # empty and old: removed
    assert (recording_dir / "2026" / "05").is_dir()  # just emptied (fresh mtime): FreeSWITCH may be writing into it
    for name in ("absolute", "relative", "missing"):
        assert reload(calls[name]).recording_path == ""
    for name in ("traversal", "outside", "symlink", "young"):
        assert reload(calls[name]).recording_path == calls[name].recording_path
    entry, = audits("retention.purge_recordings")
    assert entry.detail["counts"]["recordings_deleted"] == 2


def test_recording_dry_run_deletes_nothing(db, recording_dir):
    acme = make_tenant("acme")
    old = NOW - timedelta(days=200)
    referenced, orphan = recording_dir / "r.wav", recording_dir / "o.wav"
    for path in (referenced, orphan):
        path.write_bytes(b"RIFF")
        age(path, old)
    make_call(acme, old, recording_path=str(referenced))
    before = snapshot()

    report = retention.purge_old_recordings(NOW, 180, recording_dir, dry_run=True)

    assert report.counts["recordings_deleted"] == 1 and report.counts["orphan_recordings_deleted"] == 1
    assert referenced.exists() and orphan.exists() and snapshot() == before


def test_a_root_directory_is_never_swept(db):
    report = retention.purge_old_recordings(NOW, 1, Path("/"))
    assert report.errors and "dedicated directory" in report.errors[0]


# --- CDR files ----------------------------------------------------------------------------------

def test_ingested_cdr_files_are_deleted_and_unread_ones_reported(db, tmp_path):
    cdr_dir = tmp_path / "cdr"
    (cdr_dir / "processed").mkdir(parents=True)
    (cdr_dir / "bad").mkdir()
    old_done, old_bad = cdr_dir / "processed" / "u1.cdr.json", cdr_dir / "bad" / "u2.cdr.json"
    young_done, unread = cdr_dir / "processed" / "u3.cdr.json", cdr_dir / "u4.cdr.json"
    for path in (old_done, old_bad, young_done, unread):
        path.write_text("{}")
    for path in (old_done, old_bad, unread):
        age(path, NOW - timedelta(days=30))
    age(young_done, NOW - timedelta(days=29))

    preview = retention.purge_old_cdr_files(NOW, 30, cdr_dir, dry_run=True)
    assert old_done.exists() and preview.counts == {"cdr_files_deleted": 2, "cdr_files_not_ingested": 1}

    report = retention.purge_old_cdr_files(NOW, 30, cdr_dir)
    assert report.counts == preview.counts
    assert not old_done.exists() and not old_bad.exists()
    assert young_done.exists() and unread.exists()  # never ingested: deleting it could lose a charge
    assert "never ingested" in report.notes[0]


# --- D2: terminated tenants ---------------------------------------------------------------------

@pytest.fixture
def terminated(db, tmp_path, recording_dir):
    """A tenant terminated exactly 7 days before NOW with data of every kind, one terminated a
    second too late to be due, and an active one."""
    gone = make_tenant("gone", status="terminated", terminated_at=NOW - timedelta(days=7),
                       termination_kind="violation")
    late = make_tenant("late", status="terminated", terminated_at=NOW - timedelta(days=7) + timedelta(seconds=1),
                       termination_kind="operator_fault")
    active = make_tenant("live")
    files = {"inside": recording_dir / "gone-1.wav", "outside": tmp_path / "gone-outside.wav",
             "late": recording_dir / "late-1.wav"}
    for path in files.values():
        path.write_bytes(b"RIFF")
    for tenant in (gone, late, active):
        lease = NumberLease.create(number=f"+86105555{tenant.id:04d}", tenant=tenant, paid_through=NOW + timedelta(days=3))
        campaign = Campaign.create(tenant=tenant, code="c", script="hello", status="approved")
        seat = Seat.create(tenant=tenant, sip_user=f"10{tenant.id}", sip_domain="pbx", valid_to=NOW,
                           pinned_number=lease, default_campaign=campaign)
        Consent.create(tenant=tenant, number=CALLEE, source="import")
        DoNotCall.create(scope="tenant", tenant=tenant, number="+8613900009999", source="optout")
        Complaint.create(tenant=tenant, number=CALLEE, channel="hotline", due_at=NOW)
        TenantBan.create(tenant=tenant, function="outbound")
        Hold.create(call_uuid=f"hold-{tenant.code}", tenant=tenant, seat=seat, number=lease, expires_at=NOW,
                    released_at=NOW)
        user = AdminUser.create(username=f"admin-{tenant.code}", password_hash="x", role="tenant_admin",
                                tenant=tenant)
        ApiToken.create(user=user, prefix=f"p{tenant.id}", token_hash="x")
        posting.post(tenant.id, "topup", 10000, actor="test")
        make_call(tenant, NOW - timedelta(days=8), seat=seat, campaign=campaign,
                  recording_path=str(files["inside"] if tenant is gone else files["late"] if tenant is late else ""))
    make_call(gone, NOW - timedelta(days=8), recording_path=str(files["outside"]))
    DoNotCall.create(scope="platform", number=CALLEE, source="optout", reason="opted out on a call of gone")
    return {"gone": gone, "late": late, "live": active, "files": files}


def counts_for(tenant) -> dict[str, int]:
    return {model.__name__: model.select().where(model.tenant == tenant.id).count()
            for model in (CallRecord, Consent, DoNotCall, Complaint, TenantBan, Hold, AdminUser, Seat, Campaign,
                          NumberLease, LedgerEntry)}


def test_terminated_tenant_data_is_deleted_after_the_delay(terminated):
    gone, late, live = terminated["gone"], terminated["late"], terminated["live"]
    late_before, live_before = counts_for(late), counts_for(live)
    tokens_before = ApiToken.select().count()

    report = retention.delete_terminated_tenants(NOW, 7, terminated["files"]["inside"].parent)

    assert report.counts["tenants_deleted"] == 1 and report.errors == []
    assert counts_for(gone) == {"CallRecord": 0, "Consent": 0, "DoNotCall": 0, "Complaint": 0, "TenantBan": 0,
                                "Hold": 0, "AdminUser": 0, "Seat": 0, "Campaign": 0, "NumberLease": 1,
                                "LedgerEntry": 1}
    assert ApiToken.select().count() == tokens_before - 1
    lease = NumberLease.get(NumberLease.tenant == gone.id)
    assert lease.released_at == NOW  # back in the operator's pool
    row = Tenant.get_by_id(gone.id)
    assert row.data_deleted_at == NOW and row.balance_fen == 10000  # the ledger is the financial record
    assert not terminated["files"]["inside"].exists()
    assert terminated["files"]["outside"].exists()  # never outside recording_dir
    assert DoNotCall.select().where(DoNotCall.scope == "platform").count() == 1  # protects the callee
    assert counts_for(late) == late_before and counts_for(live) == live_before
    assert terminated["files"]["late"].exists()

    entry, = audits("retention.delete_tenant_data")
    assert (entry.actor, entry.tenant_id, entry.target) == ("retention", gone.id, "gone")
    assert entry.detail["call_records"] == 2 and entry.detail["recordings_deleted"] == 1
    assert entry.detail["recordings_outside_dir"] == 1 and entry.detail["leases_released"] == 1

    again = retention.delete_terminated_tenants(NOW, 7, terminated["files"]["inside"].parent)
    assert again.counts == {"tenants_deleted": 0}
    assert len(audits("retention.delete_tenant_data")) == 1


def test_terminated_tenant_dry_run_changes_nothing(terminated):
    before = snapshot()
    report = retention.delete_terminated_tenants(NOW, 7, terminated["files"]["inside"].parent, dry_run=True)
    assert snapshot() == before
    assert terminated["files"]["inside"].exists()
    assert report.counts["tenants_deleted"] == 1 and report.counts["call_records"] == 2
    assert report.notes[0].startswith("tenant gone: ")


def test_an_undeletable_recording_keeps_the_tenant_for_the_next_run(terminated):
    inside = terminated["files"]["inside"]
    inside.unlink()
    inside.mkdir()  # unlink() of a directory fails, as a file on a read-only mount would
    before = counts_for(terminated["gone"])

    report = retention.delete_terminated_tenants(NOW, 7, inside.parent)

    assert report.counts["tenants_deleted"] == 0 and "could not be deleted" in report.errors[-1]
    assert counts_for(terminated["gone"]) == before
    assert Tenant.get_by_id(terminated["gone"].id).data_deleted_at is None
    assert len(audits("retention.delete_tenant_data_failed")) == 1


# --- the command and the jobs --------------------------------------------------------------------

def test_cli_dry_run_then_run(cli, settings):
    acme = make_tenant("acme")
    make_call(acme, utcnow() - timedelta(days=31))
    before = snapshot()

    preview = cli("retention", "run", "--dry-run", "--json")
    assert preview.code == 0, preview
    steps = {step["step"]: step for step in json.loads(preview.out)}
    assert steps["mask_numbers"]["counts"]["call_records_masked"] == 1 and steps["mask_numbers"]["dry_run"]
    assert snapshot() == before

    result = cli("retention", "run")
    assert result.code == 0, result
    assert "mask_numbers" in result.out and "call_records_masked=1" in result.out
    actions = {a.action for a in AuditLog.select().where(AuditLog.actor == "retention")}
    assert actions == {"retention.mask_numbers", "retention.purge_cdr_files", "retention.purge_recordings",
                       "retention.delete_terminated_tenants"}  # a manual run is always on record


def test_cli_refuses_a_future_time_without_dry_run(cli):
    acme = make_tenant("acme")
    make_call(acme, utcnow() - timedelta(days=1))
    future = (utcnow() + timedelta(days=60)).isoformat() + "Z"
    before = snapshot()
    refused = cli("retention", "run", "--at", future)
    assert refused.code == 2 and "--dry-run" in refused.err and len(refused.err.strip().splitlines()) == 1
    assert snapshot() == before
    preview = cli("retention", "run", "--at", future, "--dry-run")
    assert preview.code == 0 and "call_records_masked=1" in preview.out
    assert cli("retention", "run", "--at", "yesterday").code == 2


def test_cli_exits_1_when_a_step_could_not_finish(cli, settings):
    settings.recording_dir.mkdir(parents=True, exist_ok=True)
    stuck = settings.recording_dir / "stuck.wav"
    stuck.mkdir()
    make_tenant("gone", status="terminated", terminated_at=utcnow() - timedelta(days=8), termination_kind="violation")
    make_call(Tenant.get(Tenant.code == "gone"), utcnow() - timedelta(days=9), recording_path=str(stuck))
    result = cli("retention", "run")
    assert result.code == 1 and "could not be deleted" in result.err


def test_jobs_act_at_most_hourly(db, settings):
    acme = make_tenant("acme")
    make_call(acme, utcnow() - timedelta(days=31))
    first = jobs.retain_numbers(settings, utcnow())
    assert "call_records_masked=1" in first
    make_call(acme, utcnow() - timedelta(days=31))
    assert jobs.retain_numbers(settings, utcnow()).startswith("not due")
    assert "nothing due" in jobs.delete_terminated_tenants(settings, utcnow())
    assert "nothing due" in jobs.retain_recordings(settings, utcnow())
    # an hour later the job acts again
    for entry in AuditLog.select():
        AuditLog.update(at=entry.at - timedelta(hours=1, seconds=1)).where(AuditLog.id == entry.id).execute()
    assert "call_records_masked=1" in jobs.retain_numbers(settings, utcnow())


def test_fsapp_jobs_run_includes_retention(cli):
    acme = make_tenant("acme")
    record = make_call(acme, utcnow() - timedelta(days=31))
    result = cli("jobs", "run", "--only", "retention_numbers")
    assert result.code == 0, result
    assert "retention_numbers: mask_numbers: call_records_masked=1" in result.out
    assert reload(record).callee_number == MASKED
    result = cli("jobs", "run")
    assert result.code == 0, result
    for name in ("retention_numbers", "retention_recordings", "retention_tenants"):
        assert f"{name}: " in result.out
    assert "retention_numbers: not due" in result.out
