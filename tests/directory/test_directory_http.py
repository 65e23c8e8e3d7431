"""The SIP directory FreeSWITCH reads over HTTP, exercised through real HTTP requests shaped like
mod_xml_curl's, on SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

import models
from fs_app import metrics
from fs_app.directory.document import NOT_FOUND
from models import Seat
from models.seats import number_leases
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from domain.clock import utcnow

from .conftest import SECRET, basic, make_tenant, request_fields


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def digest_response(ha1: str, nonce: str, method: str, uri: str, nc: str = "00000001", cnonce: str = "0a4f113b",
                    qop: str = "auth") -> str:
    """RFC 2617 3.2.2.1: the response a phone sends, from HA1 = MD5(user:realm:password)."""
    return md5(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{md5(f'{method}:{uri}')}")


def user_of(body: str) -> ET.Element:
    document = ET.fromstring(body)
    assert document.get("type") == "freeswitch/xml"
    users = document.findall("./section[@name='directory']/domain/groups/group/users/user")
    assert len(users) == 1, body
    return users[0]


def params_of(node: ET.Element, tag: str) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in node.iter(tag)}


def counter(name: str, **labels) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_registration_gets_the_seat_in_its_tenants_domain_with_its_a1_hash(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    number_leases.lease_number("acme", "02012345678")
    campaigns.add_campaign("acme", "spring", script="您好")
    seat = seats.add_seat("acme", "1001", pin_number="02012345678", campaign="spring")
    client = directory(directory_cache_ms=45000)
    found_before = counter("fsapp_directory_answers_total", outcome="found")

    status, body, headers = client.post(request_fields("sip_auth", "1001", "acme.pbx.example.com"))

    assert status == 200 and headers["Content-Type"].startswith("text/xml")
    document = ET.fromstring(body)
    domain = document.find("./section[@name='directory']/domain")
    assert domain.get("name") == "acme.pbx.example.com"
    assert "sofia_contact" in params_of(domain.find("params"), "param")["dial-string"]
    user = user_of(body)
    assert user.get("id") == "1001" and user.get("cacheable") == "45000"
    assert params_of(user, "param") == {"a1-hash": seat.sip_a1_hash}
    assert "password" not in body  # only the hash ever leaves the product
    assert params_of(user, "variable") == {
        "user_context": "fsapp_agents", "fsapp_tenant": "acme", "fsapp_seat": "1001@acme.pbx.example.com",
        "fsapp_seat_role": "agent", "fsapp_seat_campaign": "spring", "fsapp_seat_number": "+862012345678"}
    assert counter("fsapp_directory_answers_total", outcome="found") == found_before + 1


def test_the_a1_hash_verifies_the_digest_a_phone_computes_from_its_password(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    seat = seats.add_seat("acme", "1001")
    password = seat.issued_password
    client = directory()
    fields = request_fields("sip_auth", "1001", "acme.pbx.example.com")
    a1_hash = params_of(user_of(client.post(fields)[1]), "param")["a1-hash"]

    # the phone: HA1 from the password it was given; FreeSWITCH: the a1-hash from the directory
    nonce, uri = fields["sip_auth_nonce"], fields["sip_auth_uri"]
    phone = digest_response(md5(f"1001:acme.pbx.example.com:{password}"), nonce, "REGISTER", uri)
    assert digest_response(a1_hash, nonce, "REGISTER", uri) == phone
    wrong = digest_response(md5("1001:acme.pbx.example.com:not-the-password"), nonce, "REGISTER", uri)
    assert digest_response(a1_hash, nonce, "REGISTER", uri) != wrong
    # a new password: the old one no longer matches what the directory hands out
    rotated = seats.rotate_password("acme", "1001")
    a1_after = params_of(user_of(client.post(fields)[1]), "param")["a1-hash"]
    assert digest_response(a1_after, nonce, "REGISTER", uri) != phone
    assert a1_after == md5(f"1001:acme.pbx.example.com:{rotated.issued_password}")


@pytest.mark.parametrize("action", ["sip_auth", "user_call", "message-count"])
def test_every_kind_of_user_lookup_is_answered(db, directory, action):
    make_tenant("acme", "acme.pbx.example.com")
    seats.add_seat("acme", "1001")
    status, body, _ = directory().post(request_fields(action, "1001", "acme.pbx.example.com"))
    assert status == 200 and user_of(body).get("id") == "1001"


def test_a_domain_only_lookup_or_another_section_is_not_found(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    seats.add_seat("acme", "1001")
    client = directory()
    domain_only = {"section": "directory", "tag_name": "domain", "key_name": "name",
                   "key_value": "acme.pbx.example.com", "domain": "acme.pbx.example.com", "purpose": "gateways"}
    assert client.post(domain_only)[1] == NOT_FOUND.decode()
    dialplan = request_fields("sip_auth", "1001", "acme.pbx.example.com", section="dialplan")
    assert client.post(dialplan)[1] == NOT_FOUND.decode()


def not_found(client, user: str, domain: str) -> bool:
    status, body, _ = client.post(request_fields("sip_auth", user, domain))
    assert status == 200
    return body == NOT_FOUND.decode()


def test_unknown_expired_disabled_and_credential_less_seats_are_not_found(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    for user in ("1001", "1002", "1003", "1004", "1005"):
        seats.add_seat("acme", user)
    client = directory()
    assert not not_found(client, "1001", "acme.pbx.example.com")
    assert not_found(client, "9999", "acme.pbx.example.com")  # unknown user
    assert not_found(client, "1001", "nobody.example.com")  # unknown domain
    Seat.update(valid_to=utcnow() - timedelta(seconds=1)).where(Seat.sip_user == "1002").execute()
    assert not_found(client, "1002", "acme.pbx.example.com")  # expired (A3)
    Seat.update(valid_from=utcnow() + timedelta(days=1)).where(Seat.sip_user == "1003").execute()
    assert not_found(client, "1003", "acme.pbx.example.com")  # not valid yet
    seats.set_active("acme", "1004", False)
    assert not_found(client, "1004", "acme.pbx.example.com")  # disabled
    seats.set_active("acme", "1004", True)
    assert not not_found(client, "1004", "acme.pbx.example.com")
    Seat.update(sip_a1_hash="").where(Seat.sip_user == "1005").execute()  # a seat from before step 3
    assert not_found(client, "1005", "acme.pbx.example.com")
    tenants.set_tenant("acme", status="terminated")
    assert not_found(client, "1001", "acme.pbx.example.com")


def test_two_tenants_each_have_their_own_1001(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    make_tenant("globex")  # the default domain: globex.sip.internal
    acme = seats.add_seat("acme", "1001")
    globex = seats.add_seat("globex", "1001")
    assert globex.sip_domain == "globex.sip.internal"
    client = directory()

    acme_user = user_of(client.post(request_fields("sip_auth", "1001", "acme.pbx.example.com"))[1])
    globex_user = user_of(client.post(request_fields("sip_auth", "1001", "globex.sip.internal"))[1])
    assert params_of(acme_user, "variable")["fsapp_tenant"] == "acme"
    assert params_of(globex_user, "variable")["fsapp_tenant"] == "globex"
    assert params_of(acme_user, "param")["a1-hash"] == md5(f"1001:acme.pbx.example.com:{acme.issued_password}")
    assert params_of(globex_user, "param")["a1-hash"] == md5(f"1001:globex.sip.internal:{globex.issued_password}")
    # acme's password does not open globex's 1001, and a tenant cannot take the other's domain
    assert params_of(globex_user, "param")["a1-hash"] != md5(f"1001:globex.sip.internal:{acme.issued_password}")
    with pytest.raises(models.InvalidInput, match="belongs to another tenant"):
        seats.add_seat("globex", "1002@acme.pbx.example.com")
    with pytest.raises(models.InvalidInput, match="belongs to another tenant"):
        make_tenant("initech", "acme.pbx.example.com")


@pytest.mark.parametrize("auth", [None, basic("wrong-secret"), "Basic !!!", "Bearer " + SECRET, basic("")])
def test_a_missing_or_wrong_secret_is_refused(db, directory, auth):
    make_tenant("acme", "acme.pbx.example.com")
    seats.add_seat("acme", "1001")
    before = counter("fsapp_directory_failures_total", kind="auth")
    status, body, headers = directory().post(request_fields("sip_auth", "1001", "acme.pbx.example.com"), auth=auth)
    assert status == 401 and "a1-hash" not in body
    assert headers["WWW-Authenticate"].startswith("Basic")
    assert counter("fsapp_directory_failures_total", kind="auth") == before + 1


def test_without_a_configured_secret_nothing_is_answered(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    seats.add_seat("acme", "1001")
    client = directory(directory_secret="")
    assert client.post(request_fields("sip_auth", "1001", "acme.pbx.example.com"), auth=basic(""))[0] == 401


def test_a_peer_outside_the_allowed_networks_is_refused(db, directory):
    make_tenant("acme", "acme.pbx.example.com")
    seats.add_seat("acme", "1001")
    client = directory(directory_allowed_peers="127.0.0.1/32")
    before = counter("fsapp_directory_failures_total", kind="peer")
    fields = request_fields("sip_auth", "1001", "acme.pbx.example.com")
    status, body, _ = client.post(fields, source="127.0.0.2")  # another loopback address, not allowed
    assert status == 403 and "a1-hash" not in body
    assert counter("fsapp_directory_failures_total", kind="peer") == before + 1
    assert client.post(fields, source="127.0.0.1")[0] == 200
    assert directory(directory_allowed_peers="127.0.0.0/8").post(fields, source="127.0.0.2")[0] == 200


def test_malformed_requests_are_refused_and_counted(db, directory):
    client = directory()
    before = counter("fsapp_directory_failures_total", kind="bad_request")
    assert client.post(body=b"x" * 70000)[0] == 400  # larger than any directory request
    assert client.post(body=b"user=%ff%fe")[0] == 200  # undecodable value: read as text, no such user
    assert client.post(request_fields("sip_auth", "1", "a.example"), path="/other")[0] == 404
    assert client.post(request_fields("sip_auth", "1", "a.example"), method="PUT")[0] == 405
    assert counter("fsapp_directory_failures_total", kind="bad_request") == before + 3


def test_a_database_failure_is_a_503_and_counted(sqlite_db, tmp_path, directory):
    models.open_database("", tmp_path / "never-migrated")  # no tables: every lookup fails
    client = directory()
    before = counter("fsapp_directory_failures_total", kind="database")
    status, body, _ = client.post(request_fields("sip_auth", "1001", "acme.pbx.example.com"))
    assert status == 503 and "a1-hash" not in body
    assert counter("fsapp_directory_failures_total", kind="database") == before + 1
