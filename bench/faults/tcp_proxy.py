"""A loopback TCP proxy in front of a server (PostgreSQL), for faults that must not touch the
shared server itself: ``freeze`` stops forwarding (connections stay open and new ones are
accepted, as a SIGSTOPped server's kernel does), ``stop`` refuses connections and cuts the open
ones (the server is down), ``start`` after ``stop`` listens again on the same port. Runs in the
caller's gevent loop.

    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    url = proxy.url_for("postgresql://postgres@127.0.0.1:5432/db")   # the same database, via the proxy
    proxy.freeze(); ...; proxy.thaw(); proxy.stop(); proxy.start()
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit

import gevent
from gevent.event import Event
from gevent.server import StreamServer


class TcpProxy:
    def __init__(self, target: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0)):
        self.target = target
        self.address = listen
        self._server: StreamServer | None = None
        self._flowing = Event()
        self._flowing.set()
        self._sockets: set = set()
        self.connections = 0

    def start(self) -> "TcpProxy":
        self._server = StreamServer(self.address, self._handle)
        self._server.start()
        self.address = (self.address[0], self._server.server_port)
        return self

    def url_for(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        credentials = parts.netloc.rpartition("@")[0]
        netloc = (credentials + "@" if credentials else "") + f"{self.address[0]}:{self.address[1]}"
        return urlunsplit(parts._replace(netloc=netloc))

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def stop(self) -> None:
        """Refuse new connections and cut every open one."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for sock in list(self._sockets):
            try:
                sock.close()
            except OSError:
                pass
        self._sockets.clear()

    def _handle(self, client, _address) -> None:
        self.connections += 1
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        self._sockets.update((client, upstream))
        pumps = [gevent.spawn(self._pump, client, upstream), gevent.spawn(self._pump, upstream, client)]
        gevent.joinall(pumps, count=1)
        gevent.killall(pumps)
        for sock in (client, upstream):
            self._sockets.discard(sock)
            sock.close()

    def _pump(self, source, sink) -> None:
        try:
            while True:
                self._flowing.wait()
                data = source.recv(65536)
                if not data:
                    return
                self._flowing.wait()  # frozen meanwhile: hold it, as a stopped server would
                sink.sendall(data)
        except OSError:
            return
