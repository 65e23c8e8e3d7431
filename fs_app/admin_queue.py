"""At most a few admin requests run at once in the web worker of `fsapp serve --web-process`; the
rest wait their turn, not runnable.

A page render holds the gevent loop for tens of ms. Under a flood of 100 admin requests every
one of them would be runnable, and a /healthz request (served by ``fs_app.metrics`` beside the
admin, not through this queue) would wait behind all of their turns; with a few at a time it
waits for at most those few. One loop renders one page at a time anyway, so the flood finishes
no later: only the requests waiting on the database overlap, and a handful covers that.

The slot is held while the admin's view runs (which renders the page); a streamed response (a
CSV export) is sent after the slot is given back, so long downloads never hold up pages.
"""
from __future__ import annotations

from gevent.lock import BoundedSemaphore

ADMIN_REQUESTS_AT_ONCE = 2


class AdminQueue:
    """WSGI middleware: run ``app`` for at most ``at_once`` requests at a time, first come first
    served."""

    def __init__(self, app, at_once: int = ADMIN_REQUESTS_AT_ONCE):
        self.app = app
        self._slots = BoundedSemaphore(at_once)

    def __call__(self, environ, start_response):
        with self._slots:
            return self.app(environ, start_response)
