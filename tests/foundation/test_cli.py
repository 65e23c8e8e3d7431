"""The CLI contract: every command's success and its bad inputs (exit 2, one line on stderr,
nothing written), on SQLite and PostgreSQL."""
from datetime import timedelta

import pytest

import models
from models import CallRecord, Campaign, Consent, DoNotCall, LedgerEntry, NumberLease, Seat, Tenant, TenantBan
from domain.clock import utcnow


def snapshot():
    """Every row of every table: 'nothing written' means this is unchanged."""
    return {m.__name__: sorted(tuple(sorted(r.items())) for r in m.select().dicts().iterator())
            for m in models.ALL_MODELS}


def assert_refused(cli, *argv, fragment=""):
    before = snapshot()
    result = cli(*argv)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert fragment.lower() in lines[0].lower(), result.err
    assert snapshot() == before
    return result


@pytest.fixture
def acme(cli):
    assert cli("tenant", "add", "acme", "--name", "Acme Ltd", "--display-name", "爱客米", "--hotline",
               "4008123456", "--seats", "2", "--rate", "12").code == 0
    assert cli("tenant", "set", "acme", "--status", "active").code == 0
    return Tenant.get(Tenant.code == "acme")


@pytest.fixture
def script_file(tmp_path):
    path = tmp_path / "script.txt"
    path.write_text("您好，我是爱客米的客服，想向您介绍我们的新产品。", encoding="utf-8")
    return str(path)


# --- init ------------------------------------------------------------------------------------

def test_init_twice(cli):
    first = cli("init")
    assert first.code == 0 and "schema version" in first.out
    second = cli("init")
    assert second.code == 0 and "already at schema version" in second.out


def test_commands_refuse_an_uninitialised_database(tmp_path):
    import io
    from fs_app.cli import main

    err = io.StringIO()
    code = main(["tenant", "show", "x"], out=io.StringIO(), err=err,
                env={"FSAPP_DATA_DIR": str(tmp_path / "fresh")})
    assert code == 2 and "fsapp init" in err.getvalue()


# --- tenant ----------------------------------------------------------------------------------

def test_tenant_add_and_show(cli, acme):
    assert acme.status == "active" and acme.hotline == "+864008123456"
    assert acme.rate_out_fen == 12 and acme.rate_in_fen == 12 and acme.seats_purchased == 2
    shown = cli("tenant", "show", "acme", "--json")
    assert shown.code == 0 and '"display_name": "爱客米"' in shown.out
    assert "status: active" in cli("tenant", "show", "acme").out


def test_tenant_add_starts_pending_review(cli):
    result = cli("tenant", "add", "beta", "--name", "Beta", "--display-name", "Beta", "--hotline",
                 "02012345678", "--seats", "1", "--rate", "10", "--inbound-rate", "5", "--connect-fee", "3",
                 "--industry", "Loans")
    assert result.code == 0 and "pending_review" in result.out
    beta = Tenant.get(Tenant.code == "beta")
    assert (beta.rate_in_fen, beta.connect_fee_fen, beta.industry) == (5, 3, "loans")


@pytest.mark.parametrize("argv, fragment", [
    (["--hotline", "12", "--seats", "1", "--rate", "1"], "invalid phone number"),
    (["--hotline", "4008123456", "--seats", "-1", "--rate", "1"], "--seats: must be between 0 and 100000, got -1"),
    (["--hotline", "4008123456", "--seats", "1", "--rate", "1.5"], "whole number of fen"),
    (["--hotline", "4008123456", "--seats", "x", "--rate", "1"], "whole number"),
    (["--hotline", "4008123456", "--rate", "1"], "--seats"),
])
def test_tenant_add_bad_input(cli, argv, fragment):
    assert_refused(cli, "tenant", "add", "new", "--name", "N", "--display-name", "N", *argv, fragment=fragment)


def test_tenant_add_duplicate_and_bad_code(cli, acme):
    common = ["--name", "N", "--display-name", "N", "--hotline", "4008123456", "--seats", "1", "--rate", "1"]
    assert_refused(cli, "tenant", "add", "acme", *common, fragment="already exists")
    assert_refused(cli, "tenant", "add", "bad code!", *common, fragment="invalid tenant code")


def test_tenant_set(cli, acme):
    assert cli("tenant", "set", "acme", "--seats", "5", "--rate", "20", "--industry-approved", "yes",
               "--windows", "09:30-11:30,14:00-17:00").code == 0
    acme = Tenant.get_by_id(acme.id)
    assert (acme.seats_purchased, acme.rate_out_fen, acme.industry_approved) == (5, 20, True)
    assert acme.calling_windows == "09:30-11:30,14:00-17:00"
    assert cli("tenant", "set", "acme", "--status", "suspended").code == 0
    assert cli("tenant", "set", "acme", "--status", "active").code == 0


@pytest.mark.parametrize("argv, fragment", [
    (["--windows", "08:00-12:00"], "only narrow"),
    (["--windows", "12:00-11:00"], "ends before"),
    (["--status", "banned"], "invalid choice"),
    (["--industry-approved", "perhaps"], "yes or no"),
    ([], "nothing to change"),
])
def test_tenant_set_bad_input(cli, acme, argv, fragment):
    assert_refused(cli, "tenant", "set", "acme", *argv, fragment=fragment)


def test_tenant_set_unknown_tenant_and_final_termination(cli, acme):
    assert_refused(cli, "tenant", "set", "nobody", "--seats", "1", fragment="unknown tenant")
    assert cli("tenant", "set", "acme", "--status", "terminated").code == 0
    assert_refused(cli, "tenant", "set", "acme", "--status", "active", fragment="cannot go from terminated")


def test_tenant_seats_cannot_drop_below_seats_in_use(cli, acme):
    assert cli("seat", "add", "acme", "1001@pbx.example.com").code == 0
    assert cli("seat", "add", "acme", "1002@pbx.example.com").code == 0
    assert_refused(cli, "tenant", "set", "acme", "--seats", "1", fragment="2 seats in use")


def test_tenant_ban_and_unban(cli, acme):
    until = (utcnow() + timedelta(days=3)).isoformat() + "Z"
    result = cli("tenant", "ban", "acme", "--function", "outbound", "--until", until, "--reason", "complaints")
    assert result.code == 0 and "outbound banned until" in result.out
    ban = TenantBan.get()
    assert ban.function == "outbound" and ban.reason == "complaints"
    assert "outbound" in cli("tenant", "show", "acme", "--json").out
    assert cli("tenant", "unban", "acme", "--function", "outbound").code == 0
    assert TenantBan.get().lifted_at is not None
    assert_refused(cli, "tenant", "unban", "acme", "--function", "outbound", fragment="no active outbound ban")


@pytest.mark.parametrize("argv, fragment", [
    (["--function", "everything", "--until", "2099-01-01T00:00:00Z"], "invalid choice"),
    (["--function", "outbound", "--until", "tomorrow"], "invalid date"),
    (["--function", "outbound", "--until", "2000-01-01T00:00:00Z"], "in the past"),
])
def test_tenant_ban_bad_input(cli, acme, argv, fragment):
    assert_refused(cli, "tenant", "ban", "acme", *argv, fragment=fragment)


def test_tenant_show_unknown(cli):
    assert_refused(cli, "tenant", "show", "ghost", fragment="unknown tenant")


# --- seat ------------------------------------------------------------------------------------

def test_seat_add_with_pin_and_campaign(cli, acme, script_file):
    assert cli("number", "lease", "acme", "02012345678").code == 0
    assert cli("campaign", "add", "acme", "spring", "--script-file", script_file).code == 0
    result = cli("seat", "add", "acme", "1001@PBX.example.com", "--role", "admin", "--days", "10",
                 "--pin-number", "+862012345678", "--campaign", "spring")
    assert result.code == 0, result
    seat = Seat.get()
    assert (seat.sip_user, seat.sip_domain, seat.role) == ("1001", "pbx.example.com", "admin")
    assert seat.pinned_number.number == "+862012345678" and seat.default_campaign.code == "spring"
    assert timedelta(days=9, hours=23) < seat.valid_to - seat.valid_from <= timedelta(days=10)


@pytest.mark.parametrize("argv, fragment", [
    (["acme", "not an address!"], "expected USER or USER@DOMAIN"),  # a bare USER is on the tenant's domain
    (["ghost", "1001@pbx.example.com"], "unknown tenant"),
    (["acme", "1001@pbx.example.com", "--role", "boss"], "invalid choice"),
    (["acme", "1001@pbx.example.com", "--days", "0"], "--days: must be between 1 and 3660 days, got 0"),
    (["acme", "1001@pbx.example.com", "--pin-number", "02087654321"], "not leased to tenant"),
    (["acme", "1001@pbx.example.com", "--campaign", "nope"], "unknown campaign"),
])
def test_seat_add_bad_input(cli, acme, argv, fragment):
    assert_refused(cli, "seat", "add", *argv, fragment=fragment)


def test_seats_never_exceed_purchased(cli, acme):
    assert cli("seat", "add", "acme", "1001@pbx.example.com").code == 0
    assert_refused(cli, "seat", "add", "acme", "1001@pbx.example.com", fragment="already exists")
    assert cli("seat", "add", "acme", "1002@pbx.example.com", "--role", "admin").code == 0
    assert_refused(cli, "seat", "add", "acme", "1003@pbx.example.com", fragment="all 2 purchased seats")


# --- number ----------------------------------------------------------------------------------

def test_number_lease_records_geography(cli, acme):
    assert cli("topup", "acme", "5000").code == 0  # the first month's rent is paid at lease time (C3)
    result = cli("number", "lease", "acme", "020-1234-5678", "--days", "30", "--monthly-fee", "5000",
                 "--max-calls", "2")
    assert result.code == 0 and "广东省" in result.out
    lease = NumberLease.get()
    assert (lease.number, lease.province, lease.city) == ("+862012345678", "广东省", "广州市")
    assert (lease.monthly_fee_fen, lease.max_calls) == (5000, 2)
    assert Tenant.get_by_id(acme.id).balance_fen == 0


def test_number_lease_needs_the_first_rent(cli, acme):
    assert_refused(cli, "number", "lease", "acme", "02012345678", "--monthly-fee", "5000", fragment="balance")


def test_number_lease_conflicts_and_bad_input(cli, acme):
    assert cli("tenant", "add", "beta", "--name", "B", "--display-name", "B", "--hotline", "4008123456",
               "--seats", "1", "--rate", "1").code == 0
    assert cli("number", "lease", "acme", "+862012345678").code == 0
    assert_refused(cli, "number", "lease", "beta", "02012345678", fragment="already leased to another tenant")
    assert_refused(cli, "number", "lease", "acme", "02012345678", fragment="already leased to this tenant")
    assert_refused(cli, "number", "lease", "acme", "12345", fragment="invalid phone number")
    assert_refused(cli, "number", "lease", "acme", "02087654321", "--monthly-fee", "-5",
                   fragment="--monthly-fee: must be between 0 and 100000000 fen, got -5")
    assert_refused(cli, "number", "lease", "ghost", "02087654321", fragment="unknown tenant")


def test_lapsed_lease_can_be_leased_again(cli, acme):
    assert cli("number", "lease", "acme", "02012345678").code == 0
    NumberLease.update(paid_through=utcnow() - timedelta(seconds=1)).execute()
    assert cli("tenant", "add", "beta", "--name", "B", "--display-name", "B", "--hotline", "4008123456",
               "--seats", "1", "--rate", "1").code == 0
    assert cli("number", "lease", "beta", "02012345678").code == 0
    assert NumberLease.get().tenant.code == "beta" and NumberLease.select().count() == 1


# --- campaign --------------------------------------------------------------------------------

def test_campaign_add_review_approve(cli, acme, script_file):
    result = cli("campaign", "add", "acme", "spring", "--script-file", script_file, "--record", "no")
    assert result.code == 0 and "review" in result.out
    campaign = Campaign.get()
    assert campaign.status == "review" and campaign.record is False and campaign.screening_hits == {}
    assert cli("campaign", "approve", "acme", "spring", "--note", "ok").code == 0
    assert Campaign.get().status == "approved"
    assert cli("campaign", "reject", "acme", "spring").code == 0
    assert Campaign.get().status == "rejected"


def test_campaign_screening_hits_are_reported(cli, acme, tmp_path):
    script = tmp_path / "loan.txt"
    script.write_text("我们提供低息贷款，also a great stock tip.", encoding="utf-8")
    result = cli("campaign", "add", "acme", "loans", "--script-file", str(script))
    assert result.code == 0 and "screening hits" in result.out
    hits = Campaign.get().screening_hits
    assert "贷款" in hits["restricted_industry"] and "stock" in hits["restricted_industry"]


def test_clean_script_auto_approval_is_a_setting(cli, acme, script_file):
    result = cli("campaign", "add", "acme", "spring", "--script-file", script_file,
                 extra_env={"FSAPP_SCRIPT_AUTO_APPROVE_CLEAN": "true"})
    assert result.code == 0 and Campaign.get().status == "approved"


def test_changed_script_goes_back_to_review(cli, acme, script_file, tmp_path):
    assert cli("campaign", "add", "acme", "spring", "--script-file", script_file).code == 0
    assert cli("campaign", "approve", "acme", "spring").code == 0
    changed = tmp_path / "v2.txt"
    changed.write_text("新的话术：赌博", encoding="utf-8")
    assert cli("campaign", "update", "acme", "spring", "--script-file", str(changed)).code == 0
    campaign = Campaign.get()
    assert campaign.status == "review" and "赌博" in campaign.screening_hits["prohibited"]


def test_campaign_bad_input(cli, acme, script_file, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n")
    assert_refused(cli, "campaign", "add", "acme", "c1", "--script-file", str(tmp_path / "none.txt"),
                   fragment="file not found")
    assert_refused(cli, "campaign", "add", "acme", "c1", "--script-file", str(empty), fragment="must not be empty")
    assert_refused(cli, "campaign", "add", "acme", "c1", "--script-file", script_file, "--record", "maybe",
                   fragment="yes or no")
    assert cli("campaign", "add", "acme", "c1", "--script-file", script_file).code == 0
    assert_refused(cli, "campaign", "add", "acme", "c1", "--script-file", script_file, fragment="already exists")
    assert_refused(cli, "campaign", "approve", "acme", "nope", fragment="unknown campaign")
    assert cli("campaign", "approve", "acme", "c1").code == 0
    assert_refused(cli, "campaign", "approve", "acme", "c1", fragment="cannot mark it approved")


# --- consent ---------------------------------------------------------------------------------

def test_consent_add_and_revoke(cli, acme):
    result = cli("consent", "add", "acme", "13800138000", "--source", "web form", "--evidence", "F-1",
                 "--expires", "2099-01-01T00:00:00+08:00")
    assert result.code == 0
    consent = Consent.get()
    assert consent.number == "+8613800138000" and consent.evidence == "F-1"
    assert consent.expires_at.isoformat() == "2098-12-31T16:00:00"
    assert cli("consent", "revoke", "acme", "+8613800138000").code == 0
    assert Consent.get().revoked_at is not None
    assert_refused(cli, "consent", "revoke", "acme", "13800138000", fragment="no active consent")


@pytest.mark.parametrize("argv, fragment", [
    (["acme", "123", "--source", "web"], "invalid phone number"),
    (["acme", "13800138000", "--source", " "], "source must not be empty"),
    (["acme", "13800138000", "--source", "web", "--expires", "soon"], "invalid date"),
    (["acme", "13800138000", "--source", "web", "--expires", "2000-01-01"], "expires before"),
    (["ghost", "13800138000", "--source", "web"], "unknown tenant"),
])
def test_consent_add_bad_input(cli, acme, argv, fragment):
    assert_refused(cli, "consent", "add", *argv, fragment=fragment)


def test_consent_import_keeps_good_rows_and_reports_bad_ones(cli, acme, tmp_path):
    path = tmp_path / "consent.csv"
    path.write_text("number,source,evidence,expires_at\n"
                    "13800138000,web,F-1,\n"
                    "12,web,F-2,\n"
                    "13900139000,,F-3,\n"
                    "\n"
                    "+8613700137000,contract,C-9,2099-01-01T00:00:00Z\n"
                    "13600136000,web,F-4,never\n", encoding="utf-8")
    result = cli("consent", "import", "acme", str(path))
    assert result.code == 1, result
    assert "imported 2 row(s); 3 bad row(s)" in result.out
    assert f"{path}:3: invalid phone number" in result.err
    assert f"{path}:4: consent source must not be empty" in result.err
    assert f"{path}:7: invalid date/time" in result.err
    assert sorted(c.number for c in Consent.select()) == ["+8613700137000", "+8613800138000"]


def test_consent_import_strict_writes_nothing(cli, acme, tmp_path):
    path = tmp_path / "consent.csv"
    path.write_text("number,source\n13800138000,web\nbad,web\n", encoding="utf-8")
    result = assert_refused(cli, "consent", "import", "acme", str(path), "--strict", fragment="nothing imported") \
        if False else None
    before = snapshot()
    result = cli("consent", "import", "acme", str(path), "--strict")
    assert result.code == 2 and f"{path}:3:" in result.err and "nothing imported" in result.err
    assert snapshot() == before


def test_consent_import_bad_file(cli, acme, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("phone,source\n13800138000,web\n", encoding="utf-8")
    assert_refused(cli, "consent", "import", "acme", str(path), fragment="missing column(s) number")
    path.write_text("", encoding="utf-8")
    assert_refused(cli, "consent", "import", "acme", str(path), fragment="empty")
    path.write_bytes(b"\xff\xfe\x00bad")
    assert_refused(cli, "consent", "import", "acme", str(path), fragment="not UTF-8")


# --- dnc -------------------------------------------------------------------------------------

def test_dnc_add_platform_and_tenant(cli, acme):
    assert cli("dnc", "add", "13800138000", "--reason", "regulator list").code == 0
    assert cli("dnc", "add", "13800138000", "--tenant", "acme").code == 0
    assert cli("dnc", "add", "13800138000", "--tenant", "acme").code == 0  # idempotent
    scopes = sorted((e.scope, e.tenant_id) for e in DoNotCall.select())
    assert scopes == [("platform", None), ("tenant", acme.id)]
    assert_refused(cli, "dnc", "add", "999", fragment="invalid phone number")
    assert_refused(cli, "dnc", "add", "13800138000", "--tenant", "ghost", fragment="unknown tenant")


def test_dnc_import(cli, acme, tmp_path):
    path = tmp_path / "dnc.csv"
    path.write_text("\ufeffnumber,reason\n13800138000,asked\n13800138000,dup\nabc,x\n13900139000\n",
                    encoding="utf-8")
    result = cli("dnc", "import", str(path), "--tenant", "acme")
    assert result.code == 1, result
    assert f"{path}:4: invalid phone number" in result.err
    assert f"{path}:5: expected 2 fields" in result.err
    assert DoNotCall.select().count() == 1
    result = cli("dnc", "import", str(path), "--strict")
    assert result.code == 2 and DoNotCall.select().count() == 1


# --- topup and calls -------------------------------------------------------------------------

def test_topup_paid_and_promo(cli, acme):
    assert cli("topup", "acme", "10000").code == 0
    result = cli("topup", "acme", "500", "--promo")
    assert result.code == 0 and "balance 10500 fen" in result.out
    acme = Tenant.get_by_id(acme.id)
    assert (acme.balance_fen, acme.promo_balance_fen) == (10500, 500)
    assert [(e.kind, e.amount_fen, e.promo_fen) for e in LedgerEntry.select().order_by(LedgerEntry.id)] == [
        ("topup", 10000, 0), ("promo", 500, 500)]


@pytest.mark.parametrize("argv, fragment", [
    (["acme", "0"], "FEN: must be between 1 and 1000000000000 fen, got 0"),
    (["acme", "-5"], "FEN: must be between 1 and 1000000000000 fen, got -5"),
    (["acme", "12.50"], "whole number of fen"),
    (["ghost", "100"], "unknown tenant"),
])
def test_topup_bad_input(cli, acme, argv, fragment):
    assert_refused(cli, "topup", *argv, fragment=fragment)


def test_calls_lists_records_in_every_format(cli, acme):
    now = utcnow()
    CallRecord.create(agent_uuid="a-1", callee_uuid="b-1", tenant=acme, seat_address="1001@pbx.example.com",
                      callee_number="+8613800138000", decision="allowed", result="completed", billsec=61,
                      billed_minutes=2, charge_fen=24, created_at=now - timedelta(hours=1))
    CallRecord.create(agent_uuid="a-2", tenant=acme, callee_number="+8613900139000", decision="blocked",
                      reasons=["DNC", "NO_CONSENT"], created_at=now - timedelta(days=2))
    table = cli("calls", "--tenant", "acme")
    assert table.code == 0 and "DNC,NO_CONSENT" in table.out and "b-1" in table.out
    csv_out = cli("calls", "--format", "csv", "--since", (now - timedelta(days=1)).isoformat())
    assert csv_out.code == 0 and csv_out.out.count("\n") == 2 and "a-2" not in csv_out.out
    json_out = cli("calls", "--format", "json")
    assert json_out.code == 0 and '"charge_fen": 24' in json_out.out
    assert_refused(cli, "calls", "--since", "yesterday", fragment="invalid date")
    assert_refused(cli, "calls", "--tenant", "ghost", fragment="unknown tenant")
    assert_refused(cli, "calls", "--format", "xml", fragment="invalid choice")


def test_calls_show_the_tenant_and_campaign_codes(cli, acme, script_file):
    import csv
    import io
    import json
    import re

    assert cli("campaign", "add", "acme", "spring", "--script-file", script_file).code == 0
    spring = Campaign.get(Campaign.code == "spring")
    CallRecord.create(agent_uuid="a-1", tenant=acme, campaign=spring, decision="allowed", result="completed")
    CallRecord.create(agent_uuid="a-2", decision="blocked", reasons=["SEAT_UNKNOWN"])  # no tenant, no campaign
    header, *lines = cli("calls").out.splitlines()
    starts = [match.start() for match in re.finditer(r"\S+", header)] + [None]
    names = header.split()
    table = [{name: line[start:end].strip() for name, start, end in zip(names, starts, starts[1:])} for line in lines]
    assert [(row["agent_uuid"], row["tenant"], row["campaign"]) for row in table] == [
        ("a-2", "", ""), ("a-1", "acme", "spring")]
    by_agent = {row["agent_uuid"]: row for row in csv.DictReader(io.StringIO(cli("calls", "--format", "csv").out))}
    assert (by_agent["a-1"]["tenant"], by_agent["a-1"]["campaign"]) == ("acme", "spring")
    assert (by_agent["a-2"]["tenant"], by_agent["a-2"]["campaign"]) == ("", "")
    documents = {row["agent_uuid"]: row for row in json.loads(cli("calls", "--format", "json").out)}
    assert (documents["a-1"]["tenant"], documents["a-1"]["campaign"]) == ("acme", "spring")
    assert (documents["a-2"]["tenant"], documents["a-2"]["campaign"]) == ("", "")
    assert cli("calls", "--tenant", "acme", "--format", "json").out.count('"tenant": "acme"') == 1
