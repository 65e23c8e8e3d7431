"""The two listening sockets of `fsapp serve` (Event Socket and HTTP), bound before anything starts.

Binding both first means a taken port is found before a greenlet, a thread or a database file
exists: `fsapp serve` then prints one line naming the address and exits 2. ``SO_REUSEPORT`` is
never set, so no other process (another install with another database, say) can join our port;
the only way several processes share it is ``fsapp serve --workers N``, whose worker processes
inherit these very sockets (``from_fds``). ``SO_REUSEADDR`` is set, as every server does, so a
restart is not refused because of the previous run's connections in TIME_WAIT (Linux still
refuses the bind while any socket listens on the port).
"""
from __future__ import annotations

import errno
import socket as stdlib_socket
from dataclasses import dataclass

import gevent.socket

BACKLOG = 2048

_REASONS = {
    errno.EADDRINUSE: "address already in use (another fsapp serve or another program listens there; "
                      "to run several processes of one install, use --workers N)",
    errno.EADDRNOTAVAIL: "no such address on this machine",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
}


class ListenError(Exception):
    """A listening socket could not be bound; the message is one line naming the address."""


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen(host: str, port: int, what: str, backlog: int = BACKLOG):
    """A TCP socket bound to (host, port) and listening. ``what`` names it in the error."""
    family = stdlib_socket.AF_INET6 if ":" in host else stdlib_socket.AF_INET
    sock = gevent.socket.socket(family, stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        reason = _REASONS.get(exc.errno) or (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen for {what} on {format_address(host, port)}: {reason}") from None
    return sock


def address_of(sock) -> tuple[str, int]:
    name = sock.getsockname()
    return name[0], name[1]


@dataclass
class Listeners:
    """The bound Event Socket and HTTP listening sockets of one `fsapp serve`."""

    esl: object
    http: object

    @classmethod
    def bind(cls, esl: tuple[str, int], http: tuple[str, int]) -> "Listeners":
        """Bind both or neither: if the second fails, the first is closed again."""
        esl_socket = listen(*esl, "the Event Socket")
        try:
            http_socket = listen(*http, "HTTP (admin, /metrics)")
        except ListenError:
            esl_socket.close()
            raise
        return cls(esl_socket, http_socket)

    @classmethod
    def from_fds(cls, esl_fd: int, http_fd: int) -> "Listeners":
        """The sockets a worker process inherited from the supervisor (already listening)."""
        return cls(gevent.socket.socket(fileno=esl_fd), gevent.socket.socket(fileno=http_fd))

    @property
    def esl_address(self) -> tuple[str, int]:
        return address_of(self.esl)

    @property
    def http_address(self) -> tuple[str, int]:
        return address_of(self.http)

    def fds(self) -> tuple[int, int]:
        return self.esl.fileno(), self.http.fileno()

    def close(self) -> None:
        for sock in (self.esl, self.http):
            try:
                sock.close()
            except OSError:
                pass
