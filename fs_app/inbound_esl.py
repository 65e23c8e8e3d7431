"""A small client of FreeSWITCH's inbound Event Socket (127.0.0.1:8021 with a password).

The wire is the one in fs-transcripts/06-inbound-esl: FreeSWITCH greets with
``Content-Type: auth/request``; ``auth <password>`` gets a ``command/reply`` (``+OK accepted`` or
``-ERR invalid``); ``api <command>`` gets ``Content-Type: api/response``, ``Content-Length: N``
and N bytes of the command's output. Frames are header lines ending with an empty line, then
Content-Length bytes of body. Events (``text/event-plain``) only come after ``event``
subscriptions, which this client never makes; any that arrive are skipped.

For the admin, the CLI and jobs, never for a call's own work: every command has a deadline
(``timeout``, connect and authentication included), one command runs at a time per client, and a
broken connection is dropped and made again on the next command. Errors are ``EslError``.
"""
from __future__ import annotations

import gevent
import gevent.socket
from gevent.lock import Semaphore

from domain.errors import fill


class EslError(Exception):
    """FreeSWITCH's inbound Event Socket could not answer: the message says why, in one line.

    Like the models' InvalidInput, an English template with parameters (``str()`` is the CLI's
    line), so that the admin can say it in the page's language (``admin.i18n.error_text``)."""

    def __init__(self, template: str, /, **params):
        self.template, self.params = template, params
        super().__init__(fill(template, params))


class EslAuthError(EslError):
    """The password was refused."""


class InboundEventSocket:
    def __init__(self, host: str, port: int, password: str, timeout: float = 1.0):
        self.host, self.port, self.password, self.timeout = host, port, password, timeout
        self._sock = None
        self._buffer = b""
        self._lock = Semaphore()

    @classmethod
    def from_settings(cls, settings) -> "InboundEventSocket":
        host, port = settings.inbound_esl_address
        return cls(host, port, settings.esl_password, settings.inbound_esl_timeout_s)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def api(self, command: str, timeout: float | None = None) -> str:
        """The output of ``api <command>``; EslError when FreeSWITCH is unreachable, refuses the
        password or does not answer within ``timeout`` seconds (default: the client's)."""
        if "\n" in command:
            raise ValueError("an api command is one line")
        limit = self.timeout if timeout is None else timeout
        try:
            with gevent.Timeout(limit, EslError("no answer from %(address)s within %(seconds)g s", address=self.address,
                                              seconds=limit)):
                with self._lock:
                    if self._sock is None:
                        self._connect()
                    self._send(f"api {command}\n\n")
                    while True:
                        headers, body = self._frame()
                        kind = headers.get("Content-Type", "")
                        if kind == "api/response":
                            return body.decode("utf-8", "replace")
                        if kind == "text/disconnect-notice":
                            raise EslError("%(address)s closed the connection", address=self.address)
        except EslError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise EslError("cannot reach FreeSWITCH's Event Socket at %(address)s: %(reason)s", address=self.address,
                           reason=(exc.strerror or str(exc)).lower()) from None

    def close(self) -> None:
        sock, self._sock, self._buffer = self._sock, None, b""
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # ------------------------------------------------------------------ wire
    def _connect(self) -> None:
        self._sock = gevent.socket.create_connection((self.host, self.port))
        headers, _ = self._frame()
        if headers.get("Content-Type") != "auth/request":
            raise EslError("%(address)s is not FreeSWITCH's inbound Event Socket (no auth/request)",
                           address=self.address)
        self._send(f"auth {self.password}\n\n")
        headers, _ = self._frame()
        reply = headers.get("Reply-Text", "")
        if not reply.startswith("+OK"):
            raise EslAuthError("FreeSWITCH's Event Socket at %(address)s refused the password (esl_password)",
                               address=self.address)

    def _send(self, text: str) -> None:
        self._sock.sendall(text.encode("utf-8"))

    def _frame(self) -> tuple[dict[str, str], bytes]:
        while b"\n\n" not in self._buffer:
            self._receive()
        head, self._buffer = self._buffer.split(b"\n\n", 1)
        headers = {}
        for line in head.decode("utf-8", "replace").split("\n"):
            name, _, value = line.partition(": ")
            headers[name] = value
        length = int(headers.get("Content-Length", "0") or 0)
        while len(self._buffer) < length:
            self._receive()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return headers, body

    def _receive(self) -> None:
        data = self._sock.recv(65536)
        if not data:
            raise EslError("%(address)s closed the connection", address=self.address)
        self._buffer += data
