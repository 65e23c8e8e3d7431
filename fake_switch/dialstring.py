"""Reading what the app dials: ``{var=value,...}`` prefixes, the dialled number, originate's
arguments and its ``&socket(...)`` application."""

from __future__ import annotations

import re


def split_vars(dial: str) -> tuple[dict[str, str], str]:
    variables: dict[str, str] = {}
    if dial.startswith("{"):
        end = dial.find("}")
        body, dial = dial[1:end], dial[end + 1:]
        for item in re.split(r"(?<!\\),", body):
            key, _, value = item.partition("=")
            if key:
                variables[key.strip()] = value.replace("\\,", ",")
    return variables, dial


def dialled_number(dial: str) -> str:
    tail = dial.rsplit("/", 1)[-1]
    return tail.split("@", 1)[0]


def split_originate_args(text: str) -> list[str]:
    """Split like switch_separate_string: on spaces, honouring single quotes (02x pitfall)."""
    tokens, current, quoted = [], [], False
    for ch in text.strip():
        if ch == "'":
            quoted = not quoted
            continue
        if ch == " " and not quoted:
            if current:
                tokens.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        tokens.append("".join(current))
    return tokens


def socket_target(app_tokens: list[str]):
    """(address, Socket-Mode, Control) of an ``&socket(...)`` originate application."""
    if not app_tokens or not app_tokens[0].startswith("&socket("):
        return None, "async", "full"
    if len(app_tokens) == 1:  # quoted: "&socket(host:port async full)"
        inner = app_tokens[0][len("&socket("):].rstrip(")")
        parts = inner.split()
    else:  # unquoted: the app becomes "socket host:port"; async/full) become other arguments
        parts = [app_tokens[0][len("&socket("):].rstrip(")")]
    host, _, port = parts[0].rpartition(":")
    mode = "async" if "async" in parts[1:] else "static"
    control = "full" if "full" in parts[1:] else "single-channel"
    return (host, int(port)), mode, control
