"""fs_app.logs: text and JSON lines, and the per-call context under gevent."""
from __future__ import annotations

import io
import json
import logging
import re

import gevent
import pytest

from fs_app.config import load_settings
from fs_app.logs import bind_call, call_context, current_context, setup_logging


@pytest.fixture
def capture():
    """setup_logging into a buffer; the root logger is put back afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    buffers = []

    def configure(**settings_env) -> io.StringIO:
        buffer = io.StringIO()
        settings = load_settings({f"FSAPP_{k.upper()}": v for k, v in settings_env.items()})
        setup_logging(settings, stream=buffer)
        buffers.append(buffer)
        return buffer

    yield configure
    for handler in list(root.handlers):
        if handler not in saved_handlers:
            root.removeHandler(handler)
    root.setLevel(saved_level)


def json_lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def test_json_lines_carry_utc_time_level_logger_message_and_context(capture):
    buffer = capture(log_format="json", log_level="INFO")
    log = logging.getLogger("fs_app.flows.agent")
    with call_context(call_uuid="a-1"):
        log.info("seat %s identified", "1001")
        bind_call(tenant="acme", seat="1001@pbx")
        log.warning("blocked", extra={"reasons": ["DNC"]})
    log.info("after the call")
    log.debug("below the level")

    first, second, third = json_lines(buffer)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first == {"ts": first["ts"], "level": "INFO", "logger": "fs_app.flows.agent",
                     "msg": "seat 1001 identified", "call_uuid": "a-1"}
    assert second["tenant"] == "acme" and second["seat"] == "1001@pbx" and second["call_uuid"] == "a-1"
    assert second["reasons"] == ["DNC"] and second["level"] == "WARNING"
    assert "call_uuid" not in third and third["msg"] == "after the call"


def test_text_lines_show_the_context_and_tracebacks(capture):
    buffer = capture(log_format="text", log_level="DEBUG")
    log = logging.getLogger("fs_app.server")
    with call_context(call_uuid="b-2", tenant="acme"):
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("handler failed")
    text = buffer.getvalue()
    assert re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z ERROR fs_app.server \[call_uuid=b-2 tenant=acme\] handler failed\n",
                    text)
    assert "ValueError: boom" in text


def test_nested_context_adds_and_restores():
    with call_context(call_uuid="outer"):
        with call_context(seat="s1"):
            assert current_context() == {"call_uuid": "outer", "seat": "s1"}
        assert current_context() == {"call_uuid": "outer"}
        bind_call(tenant="t")
        assert current_context() == {"call_uuid": "outer", "tenant": "t"}
    assert current_context() == {}


def test_concurrent_greenlets_keep_their_own_context(capture):
    """Two calls interleaved in one process: every line carries its own call's fields."""
    buffer = capture(log_format="json")
    log = logging.getLogger("fs_app.flows")

    def call(uuid: str, tenant: str, seat: str, pause: float):
        with call_context(call_uuid=uuid):
            log.info("arrived")
            gevent.sleep(pause)
            bind_call(tenant=tenant, seat=seat)
            for step in range(3):
                gevent.sleep(pause)
                log.info("step %d", step)

    greenlets = [gevent.spawn(call, "call-A", "acme", "1001@a", 0.003),
                 gevent.spawn(call, "call-B", "bolt", "2002@b", 0.002)]
    gevent.joinall(greenlets, raise_error=True)

    lines = json_lines(buffer)
    assert len(lines) == 8
    order = [line["call_uuid"] for line in lines]
    assert order != sorted(order), "the two calls should have interleaved"
    for line in lines:
        expected = {"call-A": ("acme", "1001@a"), "call-B": ("bolt", "2002@b")}[line["call_uuid"]]
        if line["msg"] == "arrived":
            assert "tenant" not in line
        else:
            assert (line["tenant"], line["seat"]) == expected
    assert current_context() == {}


def test_setup_twice_replaces_the_handler_and_refuses_unknown_formats(capture):
    first = capture(log_format="json")
    second = capture(log_format="json")
    logging.getLogger("x").warning("once")
    assert first.getvalue() == ""
    assert len(json_lines(second)) == 1
    with pytest.raises(ValueError):
        setup_logging(log_format="xml")
