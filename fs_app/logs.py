"""Logging: text or JSON lines, and a per-call context every line of a call carries by itself.

    setup_logging(settings)                     # once per process, from log_format / log_level
    with call_context(call_uuid=uuid):          # the call's greenlet, around the whole call
        ...
        bind_call(tenant="acme", seat="1001@pbx")   # once the seat is identified
        log.info("admitted")                    # -> carries call_uuid, tenant and seat

The context lives in a ``contextvars.ContextVar``. gevent (through greenlet >= 1.0) gives every
greenlet its own context, so two calls running side by side in one process never see each
other's fields, and a new greenlet starts with an empty context.

JSON lines: ``{"ts": "2026-11-23T02:00:00.123Z", "level": "INFO", "logger": "fs_app.server",
"msg": "...", "call_uuid": "...", "tenant": "...", "seat": "..."}`` plus any ``extra=`` fields
and ``exc`` (the formatted traceback) when there is one. Times are UTC.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, Iterator, TextIO

CONTEXT_FIELDS = ("call_uuid", "tenant", "seat")

_call: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("fsapp_call_context", default={})

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@contextlib.contextmanager
def call_context(**fields: Any) -> Iterator[dict[str, Any]]:
    """Add fields to the current context for the block (nested blocks add to the outer ones)."""
    token = _call.set({**_call.get(), **_clean(fields)})
    try:
        yield _call.get()
    finally:
        _call.reset(token)


def bind_call(**fields: Any) -> None:
    """Add fields to the current context until the enclosing ``call_context`` block ends."""
    _call.set({**_call.get(), **_clean(fields)})


def current_context() -> dict[str, Any]:
    return dict(_call.get())


def _clean(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: ("" if value is None else value) for key, value in fields.items()}


class CallContextFilter(logging.Filter):
    """Copies the current call context onto each record (missing fields become "")."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = _call.get()
        for field in CONTEXT_FIELDS:
            if not hasattr(record, field):
                setattr(record, field, context.get(field, ""))
        for key, value in context.items():
            if key not in CONTEXT_FIELDS and not hasattr(record, key):
                setattr(record, key, value)
        record.fsapp_context_keys = tuple(context)
        return True


def _utc_iso(created: float) -> str:
    moment = datetime.fromtimestamp(created, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items()
            if key not in _RECORD_ATTRIBUTES and key not in CONTEXT_FIELDS and key != "fsapp_context_keys"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "ts": _utc_iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for field in CONTEXT_FIELDS:
            value = getattr(record, field, "")
            if value != "":
                document[field] = value
        for key, value in _extra_fields(record).items():
            document.setdefault(key, value)
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        return json.dumps(document, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-11-23T02:00:00.123Z INFO fs_app.server [call_uuid=... tenant=... seat=...] message``"""

    def format(self, record: logging.LogRecord) -> str:
        context = " ".join(f"{field}={getattr(record, field)}" for field in CONTEXT_FIELDS
                           if getattr(record, field, "") != "")
        line = f"{_utc_iso(record.created)} {record.levelname} {record.name}"
        if context:
            line += f" [{context}]"
        line += f" {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def setup_logging(settings=None, *, log_format: str | None = None, level: str | None = None,
                  stream: TextIO | None = None) -> logging.Handler:
    """Configure the root logger once per process (calling it again replaces our handler).

    Lines go to stderr by default: under Docker and systemd that is the log collector's input."""
    log_format = log_format or getattr(settings, "log_format", "text")
    level = level or getattr(settings, "log_level", "INFO")
    if log_format not in ("text", "json"):
        raise ValueError(f"log format must be text or json, got {log_format!r}")
    # Our lines carry the call, not the thread: without this every record asks for the current
    # thread, and under gevent that makes a dummy Thread object per greenlet (per call leg).
    logging.logThreads = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "fsapp_handler", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.fsapp_handler = True
    handler.addFilter(CallContextFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
