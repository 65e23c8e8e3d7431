"""Admin requests take turns in the web worker of `fsapp serve --web-process`: one runs, the rest
wait their turn, not runnable.

A page render holds the gevent loop for tens of ms. Under a flood of 100 admin requests every
one of them would be runnable, and a /healthz request (served by ``fs_app.metrics`` beside the
admin, not through this queue) would wait behind all of their turns; taking turns, it waits for
at most one. One loop renders one page at a time anyway, so a flood of renders finishes no later.
The price: a page waiting on the database holds the others up to its deadline
(``db_web_timeout_s``). Measured in the fault matrix (docs/operations.md): with two at a time the
flood's /healthz maximum was 97-106 ms, with one 43-86 ms.

The slot is held while the admin's view runs (which renders the page); a streamed response (a
CSV export) is sent after the slot is given back, so long downloads never hold up pages.
"""
from __future__ import annotations

from gevent.lock import BoundedSemaphore

ADMIN_REQUESTS_AT_ONCE = 1


class AdminQueue:
    """WSGI middleware: run ``app`` for at most ``at_once`` requests at a time, first come first
    served."""

    def __init__(self, app, at_once: int = ADMIN_REQUESTS_AT_ONCE):
        self.app = app
        self._slots = BoundedSemaphore(at_once)

    def __call__(self, environ, start_response):
        with self._slots:
            return self.app(environ, start_response)
