"""Benchmark: admin responses over one keep-alive HTTP connection, Nagle on (gevent's plain
WSGIServer) against off (fs_app.http_server.NoDelayWSGIServer, what `fsapp serve` runs).

    .venv/bin/python bench/admin_keepalive.py [--requests 200]

gevent.pywsgi writes the headers and the body separately; with Nagle on, the body waits for the
client's delayed ACK of the headers (~40 ms on Linux) on every response after the first of a
connection. Both servers answer the same tiny WSGI app (0.0x ms of server time, like /healthz)
and the admin's login page, interleaved in the same run. Prints p50/p95 per server and page.
"""
from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gevent import monkey  # noqa: E402

monkey.patch_all()

from gevent.pywsgi import WSGIServer  # noqa: E402

from fs_app.http_server import NoDelayWSGIServer  # noqa: E402


def healthz(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def round_trips(port: int, path: str, count: int) -> list[float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    samples = []
    try:
        for _ in range(count):
            began = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            samples.append((time.perf_counter() - began) * 1000)
    finally:
        connection.close()
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    from fs_app.config import load_settings

    import models
    from admin import create_app

    data_dir = Path(tempfile.mkdtemp(prefix="fsapp-keepalive-"))
    settings = load_settings({"FSAPP_DATA_DIR": str(data_dir)})
    models.open_database("", data_dir)
    models.migrate()
    admin = create_app(settings)
    servers = {}
    for name, server_class in (("Nagle on (WSGIServer)", WSGIServer), ("TCP_NODELAY (NoDelayWSGIServer)", NoDelayWSGIServer)):
        for page, app in (("healthz-like", healthz), ("/login", admin)):
            server = server_class(("127.0.0.1", 0), app, log=None)
            server.start()
            servers[(name, page)] = server
    results = {key: [] for key in servers}
    for _ in range(4):  # interleaved rounds: the machine's load falls on both alike
        for key, server in servers.items():
            path = "/" if key[1] == "healthz-like" else "/login"
            results[key] += round_trips(server.server_port, path, args.requests // 4)
    print(f"{'server':34} {'page':14} {'p50 ms':>8} {'p95 ms':>8}")
    for (name, page), samples in results.items():
        print(f"{name:34} {page:14} {statistics.median(samples):8.2f} {p95(samples):8.2f}")
    for server in servers.values():
        server.stop(timeout=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
