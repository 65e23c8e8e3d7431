"""What every step needs of the leg it runs on: the small base of the callee and inbound flows."""
from __future__ import annotations

from fs_app.channel import Channel


class Leg:
    """One connected leg: its channel, the settings, the language and tenant of its prompts,
    and what the call record will say of it (prompts played, consent evidence)."""

    def __init__(self, channel: Channel, settings, *, lang: str, tenant_code: str):
        self.channel = channel
        self.settings = settings
        self.uuid = channel.uuid
        self.lang = lang
        self.tenant_code = tenant_code
        self.played: list[str] = []
        self.evidence: dict = {}
