"""The listening sockets of `fsapp serve` (Event Socket, HTTP, the SIP directory), bound before
anything starts.

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
    """The bound Event Socket, HTTP and (optional) SIP directory listening sockets of one
    `fsapp serve`. The directory is call-path: its own socket, never the admin's. A worker of
    `fsapp serve --web-process` holds only its role's sockets (the others are None)."""

    esl: object
    http: object
    directory: object = None

    @classmethod
    def bind(cls, esl: tuple[str, int], http: tuple[str, int],
             directory: tuple[str, int] | None = None) -> "Listeners":
        """Bind all or none: if a later one fails, the ones bound are closed again."""
        wanted = [(esl, "the Event Socket"), (http, "HTTP (admin, /metrics)")]
        if directory is not None:
            wanted.append((directory, "the SIP directory (mod_xml_curl)"))
        bound = []
        try:
            for address, what in wanted:
                bound.append(listen(*address, what))
        except ListenError:
            for sock in bound:
                sock.close()
            raise
        return cls(*bound)

    @classmethod
    def from_fds(cls, esl_fd: int | None, http_fd: int | None, directory_fd: int | None = None) -> "Listeners":
        """The sockets a worker process inherited from the supervisor (already listening)."""
        def inherited(fd):
            return gevent.socket.socket(fileno=fd) if fd is not None else None

        return cls(inherited(esl_fd), inherited(http_fd), inherited(directory_fd))

    @property
    def esl_address(self) -> tuple[str, int]:
        return address_of(self.esl)

    @property
    def http_address(self) -> tuple[str, int]:
        return address_of(self.http)

    @property
    def directory_address(self) -> tuple[str, int] | None:
        return address_of(self.directory) if self.directory is not None else None

    def sockets(self) -> list:
        return [sock for sock in (self.esl, self.http, self.directory) if sock is not None]

    def fds(self) -> tuple[int, ...]:
        return tuple(sock.fileno() for sock in self.sockets())

    def close(self) -> None:
        for sock in self.sockets():
            try:
                sock.close()
            except OSError:
                pass
