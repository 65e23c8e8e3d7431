"""Test support: one HTTP request on a new TCP connection, as a browser's first click makes it
(the admin's tests and the fault benchmark both need fresh connections, never keep-alive)."""
from __future__ import annotations

import http.client
import urllib.parse


def request(host: str, port: int, method: str, path: str, *, cookie: str = "", form: dict | None = None,
            headers: dict | None = None, timeout: float = 30.0) -> tuple[int, http.client.HTTPMessage, str]:
    """(status, headers, body) of one request; ``form`` is sent url-encoded."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    sent = dict(headers or {})
    if cookie:
        sent["Cookie"] = cookie
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        connection.close()
