"""The opt-out (B3): offered on calls that are not recorded, honoured at once when pressed."""
from __future__ import annotations

import logging

from models.db import unit_of_work
from models.lists.list_entries import add_dnc_entry, revoke_consent
from models.tenancy.tables import Tenant

from .announce import announce
from .base import Leg
from .consent import ask_key

log = logging.getLogger("fsapp.flows.optout")

def offer_optout(leg: Leg) -> str | None:
    """The opt-out offer; the opt-out key when pressed within ``optout_window_s`` (no longer than
    the consent question would wait, so the agent's early-media budget holds)."""
    settings = leg.settings
    return ask_key(leg, "optout_offer", None, settings.optout_key,
                   min(settings.optout_window_s, settings.recording_consent_timeout_s), 0)


def record_optout(leg: Leg, number: str) -> None:
    """The number goes on the tenant's do-not-call list (and the platform's when configured) and
    its consent is revoked, in one unit of work."""
    with unit_of_work():
        tenant = Tenant.get(Tenant.code == leg.tenant_code)
        add_dnc_entry(number, tenant=tenant, reason="opt-out key pressed during the call",
                      source="optout", source_call=leg.uuid, actor="callee")
        if leg.settings.optout_to_platform_dnc:
            add_dnc_entry(number, tenant=None, reason="opt-out key pressed during the call",
                          source="optout", source_call=leg.uuid, actor="callee")
        revoke_consent(tenant, number, reason="opt-out keypress", actor="callee")
    log.info("callee opted out: %s on the do-not-call list, consent revoked", number)


def confirm_optout(leg: Leg) -> None:
    """The confirmation, then the call ends."""
    announce(leg, "optout_confirm")
    leg.channel.hangup("NORMAL_CLEARING")
