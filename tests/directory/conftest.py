"""The SIP directory served over real HTTP on 127.0.0.1:0, and requests shaped like mod_xml_curl's."""
from __future__ import annotations

import base64
import http.client
import uuid
from urllib.parse import urlencode

import pytest
from gevent.pywsgi import WSGIServer

from fs_app.config import load_settings
from fs_app.directory.app import PATH, DirectoryApp
from models.tenancy import tenants

SECRET = "directory-secret-for-tests"


def request_fields(action: str, user: str, domain: str, **extra: str) -> dict[str, str]:
    """The POST fields mod_xml_curl sends for a directory lookup (its documentation lists them:
    the binding's section/tag/key, the REQUEST_PARAMS event headers, then the lookup's own)."""
    fields = {
        "hostname": "fs1", "section": "directory", "tag_name": "domain", "key_name": "name", "key_value": domain,
        "Event-Name": "REQUEST_PARAMS", "Core-UUID": "03e322f1-b2bc-4d6c-a839-5b09ea84e116",
        "FreeSWITCH-Hostname": "fs1", "FreeSWITCH-Switchname": "fs1", "FreeSWITCH-IPv4": "192.0.2.2",
        "FreeSWITCH-IPv6": "::1", "Event-Date-Local": "2026-11-23 10:00:00",
        "Event-Date-GMT": "Mon, 23 Nov 2026 02:00:00 GMT", "Event-Date-Timestamp": "1795399200000000",
        "Event-Sequence": "5444", "action": action, "key": "id", "user": user, "domain": domain,
    }
    if action == "sip_auth":
        fields.update({
            "Event-Calling-File": "sofia_reg.c", "Event-Calling-Function": "sofia_reg_parse_auth",
            "Event-Calling-Line-Number": "2842", "sip_profile": "internal", "sip_user_agent": "Yealink SIP-T46U",
            "sip_auth_username": user, "sip_auth_realm": domain, "sip_auth_nonce": str(uuid.uuid4()),
            "sip_auth_uri": f"sip:{domain}", "sip_contact_user": user, "sip_contact_host": "192.0.2.7",
            "sip_to_user": user, "sip_to_host": domain, "sip_via_protocol": "udp", "sip_from_user": user,
            "sip_from_host": domain, "sip_call_id": str(uuid.uuid4()), "sip_request_host": domain,
            "sip_auth_qop": "auth", "sip_auth_cnonce": "0a4f113b", "sip_auth_nc": "00000001",
            "sip_auth_response": "6629fae49393a05397450978507c4ef1", "sip_auth_method": "REGISTER",
            "client_port": "5062", "ip": "192.0.2.7",
        })
    elif action == "user_call":
        fields.update({"Event-Calling-File": "mod_dptools.c", "Event-Calling-Function": "user_outgoing_channel",
                       "Event-Calling-Line-Number": "3701"})
    elif action == "message-count":
        fields.update({"Event-Calling-File": "mod_sofia.c", "Event-Calling-Function": "sofia_presence_handle_sip_i_subscribe"})
    fields.update(extra)
    return fields


def basic(secret: str, user: str = "freeswitch") -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


class DirectoryClient:
    def __init__(self, port: int):
        self.port = port

    def post(self, fields: dict | None = None, *, auth: str | None = basic(SECRET), source: str = "127.0.0.1",
             path: str = PATH, body: bytes | None = None, method: str = "POST") -> tuple[int, str, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10, source_address=(source, 0))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if auth is not None:
            headers["Authorization"] = auth
        payload = body if body is not None else urlencode(fields or {}).encode()
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode(), dict(response.getheaders())
        finally:
            connection.close()


@pytest.fixture
def directory():
    """Start the directory app on its own socket; returns a factory taking setting overrides."""
    servers = []

    def start(**overrides) -> DirectoryClient:
        values = {"directory_secret": SECRET, "directory_allowed_peers": "127.0.0.1/32"} | overrides
        server = WSGIServer(("127.0.0.1", 0), DirectoryApp(load_settings({}).replace(**values)), log=None)
        server.start()
        servers.append(server)
        return DirectoryClient(server.address[1])

    yield start
    for server in servers:
        server.stop(timeout=1)


def make_tenant(code: str, domain: str | None = None, seats: int = 5) -> None:
    tenants.add_tenant(code, name=code.title(), display_name=code.title(), hotline="4001234567", seats=seats,
                            rate=10, sip_domain=domain)
    tenants.set_tenant(code, status="active")
