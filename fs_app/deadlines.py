"""The admission deadline, counted from the moment FreeSWITCH's outbound socket connection was
accepted (issue 14): the Event Socket server marks it, admission reads it. Monotonic seconds."""
from __future__ import annotations

import contextlib
import contextvars
import time

_connected_at: contextvars.ContextVar[float | None] = contextvars.ContextVar("fsapp_connected_at", default=None)


@contextlib.contextmanager
def connected(at: float | None = None):
    """The call handled in this block connected at ``at`` (default: now)."""
    token = _connected_at.set(time.monotonic() if at is None else at)
    try:
        yield
    finally:
        _connected_at.reset(token)


def admission_deadline(settings) -> float:
    """When admission must have decided: the socket connect (or now, outside a call) plus
    ``admission_deadline_s``."""
    start = _connected_at.get()
    return (time.monotonic() if start is None else start) + settings.admission_deadline_s
