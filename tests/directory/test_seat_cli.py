"""`fsapp seat ...`: passwords generated and shown once, only the a1-hash stored, FreeSWITCH told
at once on disable/rotation (over a fake inbound Event Socket), imports writing passwords to a
private file, registrations listed; the CLI contract (exit 0/1/2, one-line errors, nothing
written on bad input)."""
from __future__ import annotations

import csv
import hashlib
import io
import re
import stat

import pytest

from fake_switch import FakeInboundEventSocket
from models import AuditLog, Seat

from csv_checks import HOSTILE, assert_kept, assert_no_formula, parse

PASSWORD = re.compile(r"SIP password \(shown once\): ([A-Za-z0-9]{20})$", re.M)
DOMAIN = "acme.pbx.example.com"


@pytest.fixture
def freeswitch():
    fake = FakeInboundEventSocket("esl-pw")
    yield fake
    fake.close()


def esl_env(fake) -> dict:
    host, port = fake.address
    return {"FSAPP_INBOUND_ESL_ADDRESS": f"{host}:{port}", "FSAPP_ESL_PASSWORD": "esl-pw"}


@pytest.fixture
def acme(cli):
    result = cli("tenant", "add", "acme", "--name", "Acme", "--display-name", "Acme", "--hotline", "4001234567",
                 "--seats", "4", "--rate", "10", "--sip-domain", DOMAIN)
    assert result.code == 0 and DOMAIN in result.out, result


def a1(user: str, password: str, domain: str = DOMAIN) -> str:
    return hashlib.md5(f"{user}:{domain}:{password}".encode()).hexdigest()


def test_seat_add_shows_the_password_once_and_stores_only_its_a1_hash(cli, acme):
    result = cli("seat", "add", "acme", "1001")
    assert result.code == 0, result
    password = PASSWORD.search(result.out).group(1)
    seat = Seat.get(Seat.sip_user == "1001")
    assert seat.sip_domain == DOMAIN and seat.sip_a1_hash == a1("1001", password)
    assert all(password not in str(entry.detail) for entry in AuditLog.select())
    assert password not in cli("tenant", "show", "acme", "--json").out


def test_rotating_a_password_tells_freeswitch_at_once(cli, acme, freeswitch):
    old = PASSWORD.search(cli("seat", "add", "acme", "1001").out).group(1)
    freeswitch.register("1001", DOMAIN)
    result = cli("seat", "password", "acme", f"1001@{DOMAIN}", extra_env=esl_env(freeswitch))
    assert result.code == 0, result
    new = PASSWORD.search(result.out).group(1)
    assert new != old and Seat.get(Seat.sip_user == "1001").sip_a1_hash == a1("1001", new)
    assert "flushed" in result.out
    assert freeswitch.flushed == [("id", "1001", DOMAIN)]  # xml_flush_cache id 1001 <domain>
    assert freeswitch.registrations == []  # flush_inbound_reg 1001@<domain>


def test_disabling_a_seat_revokes_it_and_says_so_when_freeswitch_is_unreachable(cli, acme, freeswitch):
    cli("seat", "add", "acme", "1001")
    cli("seat", "add", "acme", "1002")
    freeswitch.register("1001", DOMAIN)
    result = cli("seat", "disable", "acme", "1001", extra_env=esl_env(freeswitch))
    assert result.code == 0 and not Seat.get(Seat.sip_user == "1001").active
    assert freeswitch.flushed == [("id", "1001", DOMAIN)] and freeswitch.registrations == []
    # FreeSWITCH down: the seat is still disabled (the directory refuses it), and the CLI says what lapses when
    down = cli("seat", "disable", "acme", "1002",
               extra_env={"FSAPP_INBOUND_ESL_ADDRESS": "127.0.0.1:1", "FSAPP_ESL_PASSWORD": "x"})
    assert down.code == 0 and not Seat.get(Seat.sip_user == "1002").active
    assert "warning: FreeSWITCH was not told" in down.err and "30 s" in down.err
    assert cli("seat", "disable", "acme", "1002").code == 2  # already disabled: one line, exit 2
    assert cli("seat", "enable", "acme", "1002").code == 0 and Seat.get(Seat.sip_user == "1002").active


def test_seat_list_shows_registrations_or_a_note(cli, acme, freeswitch):
    cli("seat", "add", "acme", "1001")
    cli("seat", "add", "acme", "1002")
    freeswitch.register("1001", DOMAIN, agent="Yealink SIP-T46U", network_ip="192.0.2.7")
    listed = cli("seat", "list", "acme", "--format", "csv", extra_env=esl_env(freeswitch))
    assert listed.code == 0 and listed.err == ""
    rows = {row["seat"]: row for row in csv.DictReader(io.StringIO(listed.out))}
    assert rows[f"1001@{DOMAIN}"]["registered"] == "yes"
    assert rows[f"1001@{DOMAIN}"]["user_agent"] == "Yealink SIP-T46U"
    assert rows[f"1001@{DOMAIN}"]["contact"] == f'"1001" <sip:1001@192.0.2.7:5062>'
    assert rows[f"1001@{DOMAIN}"]["expires"] != ""
    assert rows[f"1002@{DOMAIN}"]["registered"] == "no"
    down = cli("seat", "list", "acme", extra_env={"FSAPP_INBOUND_ESL_ADDRESS": "127.0.0.1:1"})
    assert down.code == 0 and "note: registrations not shown" in down.err
    assert f"1001@{DOMAIN}" in down.out


def test_seat_list_csv_neutralises_what_a_phone_reports(cli, acme, freeswitch):
    """A registration's user agent is whatever the phone says: in a CSV it must not be a formula."""
    cli("seat", "add", "acme", "1001")
    freeswitch.register("1001", DOMAIN, agent=HOSTILE[0], network_ip="192.0.2.7")
    listed = cli("seat", "list", "acme", "--format", "csv", extra_env=esl_env(freeswitch))
    rows = parse(listed.out)
    assert_no_formula(rows)
    assert_kept(rows, "user_agent", HOSTILE[0])


def test_import_writes_the_passwords_to_a_private_file_and_reports_bad_rows(cli, acme, tmp_path):
    source = tmp_path / "seats.csv"
    source.write_text("user,role,days\n2001,agent,30\n2002,boss,30\n2003,admin,\n2001,agent,30\n"
                      f"2004@other.example,agent,30\n", encoding="utf-8")
    passwords = tmp_path / "passwords.csv"
    result = cli("seat", "import", "acme", str(source), "--passwords-file", str(passwords))
    assert result.code == 1, result
    assert result.err.splitlines() == [
        f"{source}:3: invalid role 'boss': expected agent or admin",
        f"{source}:5: seat 2001@{DOMAIN} appears twice in the file",
        f"{source}:6: tenant acme has seats on its SIP domain {DOMAIN}; a seat must be USER@{DOMAIN}",
    ]
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    written = list(csv.DictReader(passwords.open()))
    assert [row["seat"] for row in written] == [f"2001@{DOMAIN}", f"2003@{DOMAIN}"]
    for row in written:
        user = row["seat"].split("@")[0]
        assert Seat.get(Seat.sip_user == user).sip_a1_hash == a1(user, row["password"])
        assert row["password"] not in result.out + result.err  # never on the terminal
    assert Seat.get(Seat.sip_user == "2003").role == "admin"


def test_bad_input_writes_nothing(cli, acme, tmp_path):
    source = tmp_path / "seats.csv"
    source.write_text("user\n3001\n3002\nbad user!\n", encoding="utf-8")
    passwords = tmp_path / "passwords.csv"
    strict = cli("seat", "import", "acme", str(source), "--passwords-file", str(passwords), "--strict")
    assert strict.code == 2 and "nothing imported" in strict.err
    assert not passwords.exists() and Seat.select().count() == 0
    passwords.write_text("keep me\n")
    taken = cli("seat", "import", "acme", str(source), "--passwords-file", str(passwords))
    assert taken.code == 2 and taken.err.strip().endswith("give a new file for the passwords")
    assert passwords.read_text() == "keep me\n" and Seat.select().count() == 0
    missing = tmp_path / "none.csv"
    unknown = cli("seat", "import", "nobody", str(source), "--passwords-file", str(missing))
    assert unknown.code == 2 and len(unknown.err.splitlines()) == 1 and not missing.exists()
    for argv in (("seat", "add", "acme", "bad user!"), ("seat", "add", "nobody", "1001"),
                 ("seat", "password", "acme", "9999"), ("tenant", "add", "x", "--name", "X", "--display-name", "X",
                                                        "--hotline", "4001234567", "--seats", "1", "--rate", "1",
                                                        "--sip-domain", "not a domain")):
        result = cli(*argv)
        assert result.code == 2 and len(result.err.splitlines()) == 1, (argv, result)
    assert Seat.select().count() == 0
