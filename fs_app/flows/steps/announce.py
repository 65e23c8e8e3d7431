"""Playing a prompt to a leg: to its end, or until the opt-out key (B3) cuts it short."""
from __future__ import annotations

from fs_app.channel import Channel

from ..common import prompt_file
from .base import Leg


def play(channel: Channel, settings, name: str, lang: str, played: list[str],
         tenant_code: str | None = None) -> None:
    """Play one prompt to the channel (waits for its end); remembers its name in ``played``."""
    path = prompt_file(settings, name, lang, tenant_code)
    played.append(name)
    channel.playback(path)


def announce(leg: Leg, name: str) -> None:
    """``play`` on the leg, in its language and tenant."""
    play(leg.channel, leg.settings, name, leg.lang, leg.played, leg.tenant_code)


def announce_until_key(leg: Leg, name: str) -> str | None:
    """Play a prompt before the bridge; the opt-out key cuts it short (the leg is originated
    with ``playback_terminators``, fs-transcripts 08c): returns that key."""
    path = prompt_file(leg.settings, name, leg.lang, leg.tenant_code)
    leg.played.append(name)
    return leg.channel.playback_until_key(path)
