"""One pooled database connection per admin request, given back whatever happens (issue 14).

Flask runs the session interface, Babel's locale selector and every ``before_request`` hook (the
login lookup among them) in an order that changes as extensions are added, and a streamed body
(the CSV exports) reads the database after the view returned. A hook that opened the connection
"first" therefore missed the ones that ran before it, and peewee's autoconnect then opened one
nobody gave back: one leaked connection per new logged-in HTTP connection. Wrapping the WSGI app
takes the connection before any of that runs and returns it when the server closes the response.
"""
from __future__ import annotations

import logging

import gevent

import models

log = logging.getLogger("fsapp.admin")


def give_back(was_open: bool) -> None:
    """Return the connection this request took (none if the greenlet held one before it)."""
    if was_open or models.database.is_closed():
        return
    try:
        models.database.close()
    except Exception:  # noqa: BLE001 - a transaction left open by a failed view: drop the connection
        log.exception("closing the request's database connection failed; discarding it")
        models.database.obj.manual_close()


class ConnectionPerRequest:
    """WSGI middleware: connect before the app, give the connection back when the response ends."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        was_open = not models.database.is_closed()
        if not was_open:
            try:
                models.database.connect()
            except Exception:  # noqa: BLE001 - the database is down: the page says so (500); nothing to give back
                log.warning("the admin could not get a database connection", exc_info=True)
        # live calls first: a page renders only when the event loop has nothing else to do
        # (calls' Event Socket traffic, /healthz). A render holds the loop for its whole length,
        # and one finished render hands its connection straight to the next waiting one, so
        # without this a flood of renders would run back to back ahead of everything else
        gevent.idle()
        try:
            body = self.app(environ, start_response)
        except BaseException:
            give_back(was_open)
            raise
        return _ClosingBody(body, was_open)


class _ClosingBody:
    """The response body; ``close`` (called by the WSGI server after the last chunk, or when the
    client went away) gives the connection back."""

    def __init__(self, body, was_open: bool):
        self._body = body
        self._was_open = was_open

    def __iter__(self):
        return iter(self._body)

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            give_back(self._was_open)
