"""Make FreeSWITCH forget a seat's credential now, after it was disabled or its password rotated.

Two api commands over the inbound Event Socket, best effort (each logged; a failure leaves the
cached user to expire by itself within ``directory_cache_ms`` and the registration until the
phone's next re-register, which the directory then refuses):

* ``xml_flush_cache id <user> <domain>``: drop the user FreeSWITCH cached from the directory
  (its cache key is key + user + domain; sofia looks users up by ``id``);
* ``sofia profile <profile> flush_inbound_reg <user>@<domain>``: expire its registrations.
"""
from __future__ import annotations

import logging

from .inbound_esl import EslError, InboundEventSocket

log = logging.getLogger("fsapp.seats")


def revoke(settings, user: str, domain: str,
           esl: InboundEventSocket | None = None) -> tuple[bool, str | EslError]:
    """(all done, one line saying what happened: on failure an EslError, whose str() is the line)."""
    own = esl is None
    esl = esl or InboundEventSocket.from_settings(settings)
    commands = [f"xml_flush_cache id {user} {domain}",
                f"sofia profile {settings.sip_profile} flush_inbound_reg {user}@{domain}"]
    try:
        for command in commands:
            answer = esl.api(command).strip()
            if answer.startswith("-ERR") or answer.startswith("Invalid"):
                raise EslError("`%(command)s` answered %(answer)r", command=command, answer=answer[:80])
            log.info("seat %s@%s revoked in FreeSWITCH: %s -> %s", user, domain, command, answer[:80])
    except EslError as exc:
        # a template (str() is the CLI's line) so that the admin can say it in the page's language
        message = EslError("FreeSWITCH was not told (%(why)s); the cached credential lapses within %(seconds)s s "
                           "and the registration at the phone's next re-register",
                           why=exc, seconds=settings.directory_cache_ms // 1000)
        log.warning("seat %s@%s: %s", user, domain, message)
        return False, message
    finally:
        if own:
            esl.close()
    return True, "FreeSWITCH's cached credential flushed and registrations expired"
