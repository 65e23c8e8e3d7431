"""The directory's WSGI application, served on its own socket (``directory_listen``).

Per request, in this order: the peer must be in ``directory_allowed_peers`` (403), the request
must carry the shared secret as HTTP basic auth password (mod_xml_curl's gateway-credentials;
401), then the POSTed form (or query string) is read like mod_xml_curl sends it: ``section``,
``tag_name``/``key_name``/``key_value``, ``user``, ``domain``, ``action`` (sip_auth, user_call,
message-count, ...), the ``sip_auth_*`` fields and the event headers. A directory request that
names a user gets that seat's account or "not found"; anything else gets "not found", so
FreeSWITCH falls back to its static XML. A database that does not answer within
``LOOKUP_DEADLINE_S`` gives 503 (FreeSWITCH falls back too, and the phone is refused unless the
static fallback user matches). Answers and failures are counted (``fs_app.metrics``).
"""
from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from urllib.parse import parse_qs

import gevent

from fs_app import metrics
from fs_app.peers import parse_peers, peer_in
from domain.clock import utcnow

from .document import NOT_FOUND, user_document
from .lookup import find_account

log = logging.getLogger("fsapp.directory")

PATH = "/directory"
LOOKUP_DEADLINE_S = 1.0  # below mod_xml_curl's own timeout (xml_curl.conf.xml): ours answers first
MAX_BODY_BYTES = 65536  # a directory request is a few kB of form fields
XML = "text/xml; charset=utf-8"


def form_fields(environ) -> dict[str, str] | None:
    """The request's fields (first value of each), or None when the body is unreadable/too big."""
    query = environ.get("QUERY_STRING", "")
    body = b""
    if environ.get("REQUEST_METHOD") == "POST":
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        body = environ["wsgi.input"].read(length) if length else b""
    fields = parse_qs(query, keep_blank_values=True)
    try:
        fields.update(parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        return None
    return {name: values[0] for name, values in fields.items()}


def requested_user(fields: dict[str, str]) -> tuple[str, str] | None:
    """(user, domain) a directory request asks for, or None (a domain-only or other lookup)."""
    if fields.get("section") != "directory":
        return None
    user = fields.get("user") or fields.get("sip_auth_username") or ""
    domain = fields.get("domain") or (fields.get("key_value", "") if fields.get("key_name") == "name" else "")
    if not user or not domain or len(user) > 100 or len(domain) > 200:
        return None
    return user, domain


class DirectoryApp:
    def __init__(self, settings):
        self.networks = parse_peers(settings.directory_allowed_peers)
        self.secret = settings.directory_secret.encode("utf-8")
        self.cache_ms = settings.directory_cache_ms

    def authorized(self, header: str) -> bool:
        """HTTP basic auth whose password is the shared secret (the user name is not checked)."""
        if not self.secret or not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        _, sep, password = decoded.partition(b":")
        return bool(sep) and hmac.compare_digest(password, self.secret)

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        peer = environ.get("REMOTE_ADDR", "")
        if not peer_in(peer, self.networks):
            log.warning("refused directory request from %s (not in directory_allowed_peers)", peer)
            return self._failed(start_response, "peer", "403 Forbidden", b"forbidden\n")
        if not self.authorized(environ.get("HTTP_AUTHORIZATION", "")):
            log.warning("refused directory request from %s: missing or wrong shared secret", peer)
            return self._failed(start_response, "auth", "401 Unauthorized", b"unauthorized\n",
                                [("WWW-Authenticate", 'Basic realm="fsapp directory"')])
        if environ.get("PATH_INFO", "") != PATH:
            return self._failed(start_response, "bad_request", "404 Not Found", b"not found\n")
        if environ.get("REQUEST_METHOD") not in ("POST", "GET"):
            return self._failed(start_response, "bad_request", "405 Method Not Allowed", b"POST\n",
                                [("Allow", "POST, GET")])
        fields = form_fields(environ)
        if fields is None:
            return self._failed(start_response, "bad_request", "400 Bad Request", b"unreadable request\n")
        wanted = requested_user(fields)
        if wanted is None:
            return self._answer(start_response, "not_found", NOT_FOUND, started)
        try:
            with gevent.Timeout(LOOKUP_DEADLINE_S, TimeoutError(f"no answer within {LOOKUP_DEADLINE_S:g} s")):
                account = find_account(*wanted, utcnow())
        except Exception as exc:  # noqa: BLE001 - database down, locked or slow: FreeSWITCH falls back
            log.error("directory lookup of %s@%s failed: %s", *wanted, exc)
            metrics.db_error("directory")
            return self._failed(start_response, "database", "503 Service Unavailable", b"unavailable\n")
        if account is None:
            return self._answer(start_response, "not_found", NOT_FOUND, started)
        return self._answer(start_response, "found", user_document(account, self.cache_ms), started)

    @staticmethod
    def _answer(start_response, outcome: str, body: bytes, started: float):
        metrics.directory_answer(outcome, time.perf_counter() - started)
        start_response("200 OK", [("Content-Type", XML), ("Content-Length", str(len(body))),
                                  ("Cache-Control", "no-store")])
        return [body]

    @staticmethod
    def _failed(start_response, kind: str, status: str, body: bytes, headers=()):
        metrics.directory_failure(kind)
        start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
                                *headers])
        return [body]
