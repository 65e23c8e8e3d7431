"""Small pieces the leg flows share: prompt files, call-record updates, addresses, times."""
from __future__ import annotations

import logging
from datetime import datetime

from models.calls.tables import CallRecord
from models.db import unit_of_work, write_transaction
from models.tenancy.tables import Tenant

from fs_app import metrics, prompts
from fs_app.channel import Channel, ChannelError, ChannelGone
from fs_app.metering import event_time

log = logging.getLogger("fsapp.flows")

#: Played when a prompt file is missing, so nobody is ever left in silence (a short
#: "special information"-like tone, no spaces: usable in play_and_get_digits too).
FALLBACK_TONE = "tone_stream://%(330,30,950);%(330,30,1400);%(330,400,1800);loops=2"
#: What the agent hears while the callee is being prompted (B4), as in fs-transcripts 02a.
RINGBACK = "tone_stream://%(2000,4000,440,480);loops=-1"

# Variables set on the agent leg by the callee leg (the legs share nothing else).
OUTCOME_VAR = "fsapp_callee_outcome"  # bridged | opted_out | abandoned | failed


class DisclosureUnavailable(RuntimeError):
    """The tenant's disclosure cannot be played: the callee must not be connected (B1)."""


def prompt_file(settings, name: str, lang: str, tenant_code: str | None = None) -> str:
    """The path FreeSWITCH plays for a prompt. A missing tenant prompt is rendered on demand; any
    other missing file falls back to a tone (logged), except the disclosure (B1), which raises."""
    try:
        return prompts.prompt_path(settings, name, lang, tenant_code or None)
    except prompts.PromptMissing:
        if name in prompts.TENANT_PROMPTS and tenant_code:
            with unit_of_work():
                tenant = Tenant.get_or_none(Tenant.code == tenant_code)
            if tenant is not None:
                try:
                    prompts.ensure_tenant_prompts(settings, tenant)
                    return prompts.prompt_path(settings, name, lang, tenant_code)
                except Exception:  # noqa: BLE001 - espeak/sox missing, disk full...: handled below
                    log.exception("could not render %s for tenant %s", name, tenant_code)
        if name == "disclosure":
            raise DisclosureUnavailable(f"no disclosure audio for tenant {tenant_code!r}") from None
        log.error("prompt %s (%s) missing: playing a tone instead; run `fsapp prompts build`", name, lang)
        return FALLBACK_TONE


def end_with_prompt(channel: Channel, settings, name: str, cause: str, *, break_media: bool = False) -> None:
    """The agent hears ``name`` (in early media before a bridge), then the leg ends with
    ``cause``: one write, see :meth:`Channel.play_and_hang_up`."""
    channel.play_and_hang_up(prompt_file(settings, name, prompts.AGENT_LANGUAGE), cause, break_media=break_media,
                             timeout=settings.esl_command_timeout_s + 600)


def update_record(*, callee_uuid: str | None = None, record_id: int | None = None, **changes) -> None:
    """Write fields of one call record (by callee-leg uuid or id); never raises into a call."""
    if not changes:
        return
    if callee_uuid is not None:
        where = CallRecord.callee_uuid == callee_uuid
    elif record_id is not None:
        where = CallRecord.id == record_id
    else:
        return
    try:
        with unit_of_work(), write_transaction():
            CallRecord.update(**changes).where(where).execute()
    except Exception:  # noqa: BLE001 - the record is evidence, but a DB hiccup must not drop the call
        metrics.db_error("call_record")
        log.exception("could not update the call record (%s)", changes)


def socket_address(settings, *, callee: bool) -> tuple[str, int]:
    """Where FreeSWITCH sends originated legs: ``esl_callee_address`` (HOST:PORT) or esl_listen."""
    text = (settings.esl_callee_address or "").strip() if callee else ""
    if text:
        host, _, port = text.rpartition(":")
        return host.strip("[]"), int(port)
    return tuple(settings.esl_listen)


def fs_time(value: str | None) -> datetime | None:
    """A FreeSWITCH microsecond timestamp header as naive UTC (None for missing or 0)."""
    return event_time(value)


def quietly(func, *args, **kwargs):
    """Run a cleanup step on a channel that may be gone; returns None on any Event Socket error."""
    try:
        return func(*args, **kwargs)
    except ChannelGone:
        return None
    except ChannelError as exc:
        metrics.esl_error("command_failed")
        log.info("cleanup step %s failed: %s", getattr(func, "__name__", func), exc)
        return None
