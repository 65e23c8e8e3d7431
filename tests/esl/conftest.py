"""Fixtures for the Event Socket layer: the real CallServer on 127.0.0.1:0 and the fake FreeSWITCH."""

import gevent.monkey

# tests/conftest.py (owned elsewhere) patches first thing; until it exists, patch here. Repeating is harmless.
if not gevent.monkey.is_module_patched("socket"):
    gevent.monkey.patch_all()

import time  # noqa: E402

import gevent  # noqa: E402
import pytest  # noqa: E402

from fs_app.server import CallServer  # noqa: E402
from fake_switch import FakeFreeSwitch  # noqa: E402


@pytest.fixture
def make_server():
    servers = []

    def make(handler, **kwargs):
        kwargs.setdefault("command_timeout", 2.0)
        server = CallServer(handler, "127.0.0.1", kwargs.pop("port", 0), **kwargs)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def make_fake():
    fakes = []

    def make(server_or_address, **kwargs):
        address = server_or_address.address if hasattr(server_or_address, "address") else server_or_address
        kwargs.setdefault("time_scale", 0.01)
        fake = FakeFreeSwitch(*address, **kwargs)
        fakes.append(fake)
        return fake

    yield make
    for fake in fakes:
        fake.close()


def wait_until(predicate, timeout=5.0, interval=0.005):
    """Poll ``predicate`` (cheap, in-process state) until true; False on timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        gevent.sleep(interval)
    return True
