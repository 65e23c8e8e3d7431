"""Caller profiles (the ``Caller-*`` headers): what the bridge app and uuid_bridge change in them."""

from __future__ import annotations

import uuid as uuid_module

from .wire import clock_us


def with_callee_id(profile: list[tuple[str, str]], name: str, number: str) -> list[tuple[str, str]]:
    """Set Caller-Callee-ID-Name/Number (inserted after Caller-Orig-Caller-ID-Number)."""
    out = []
    for key, value in profile:
        if key in ("Caller-Callee-ID-Name", "Caller-Callee-ID-Number"):
            continue
        out.append((key, value))
        if key == "Caller-Orig-Caller-ID-Number":
            out.append(("Caller-Callee-ID-Name", name))
            out.append(("Caller-Callee-ID-Number", number))
    return out


def transferred_profile(profile: list[tuple[str, str]], peer_uuid: str) -> list[tuple[str, str]]:
    """uuid_bridge gives the channel a new caller profile: index 2 and a Transfer-Source (02)."""
    out = []
    stamp = clock_us() // 1_000_000
    for key, value in profile:
        if key == "Caller-Transfer-Source":
            continue
        if key == "Caller-Profile-Index":
            value = "2"
        out.append((key, value))
        if key == "Caller-Source":
            out.append(("Caller-Transfer-Source", f"{stamp}:{uuid_module.uuid4()}:uuid_br:{peer_uuid}"))
    return out

