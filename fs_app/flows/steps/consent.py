"""Asking a leg for one key (B2 recording consent, B3 opt-out offer) and the consent evidence."""
from __future__ import annotations

import logging
import re

from domain.clock import utcnow

from ..common import fs_time, prompt_file
from .base import Leg

log = logging.getLogger("fsapp.flows.consent")


def ask_key(leg: Leg, first: str, repeat: str | None, valid: str, timeout_s: int, repeats: int) -> str | None:
    """One key among ``valid`` while the prompt plays and ``timeout_s`` after it; the ``repeat``
    prompt (``first`` when None) up to ``repeats`` times; None when no valid key came (silence)."""
    regexp = "^[" + "".join(re.escape(c) for c in valid) + "]$"
    for attempt in range(1 + repeats):
        name = first if attempt == 0 or repeat is None else repeat
        path = prompt_file(leg.settings, name, leg.lang, leg.tenant_code)
        leg.played.append(name)
        digit = leg.channel.play_and_get_digits(
            path, min_digits=1, max_digits=1, tries=1, digit_timeout_ms=timeout_s * 1000,
            terminators="none", regexp=regexp, var_name="fsapp_digit")
        if digit and digit in valid:
            log.info("pressed %s at %s", digit, name)
            return digit
    log.info("no key: counts as decline")
    return None


def ask_consent(leg: Leg, first: str, repeat: str | None = None, *, also: str = "") -> str | None:
    """B2: the agree or decline key (or one of ``also``, e.g. the opt-out key), the notice
    repeated ``recording_consent_repeats`` times; None: silence, which counts as decline."""
    settings = leg.settings
    return ask_key(leg, first, repeat, settings.consent_agree_key + settings.consent_decline_key + also,
                   settings.recording_consent_timeout_s, settings.recording_consent_repeats)


def note_consent(leg: Leg, digit: str | None) -> None:
    """The consent evidence: the key (or "" for silence) and FreeSWITCH's time of its DTMF
    event (silence: now)."""
    pressed = fs_time(leg.channel.key_pressed_at(digit)) if digit else None
    leg.evidence.update(recording_digit=digit or "", recording_consent_at=pressed or utcnow())
