"""gevent's WSGIServer with Nagle's algorithm off on every accepted connection.

gevent.pywsgi sends a response's status line and headers in one write and its body in a second.
With Nagle on, the body waits until the client acknowledges the headers, and a client that
delays its ACKs (Linux: up to 40 ms) makes every keep-alive response ~40 ms slower than the
server's own time. TCP_NODELAY sends each write at once; both writes are whole responses' parts,
so nothing is gained by holding them back."""
from __future__ import annotations

import socket

from gevent.pywsgi import WSGIServer


def disable_nagle(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # a UNIX socket or one already closed by the peer: nothing to tune
        pass


class NoDelayWSGIServer(WSGIServer):
    """WSGIServer whose accepted sockets have TCP_NODELAY set before the first request is read."""

    def handle(self, sock, address):
        disable_nagle(sock)
        super().handle(sock, address)
