"""Which seats are registered, from FreeSWITCH: ``sofia xmlstatus profile <profile> reg``.

That command lists sofia's own registration table, so it has what an operator asks about: the
contact, the phone's user agent and when the registration expires. Its XML, per registration
(mod_sofia 1.10)::

    <registration>
        <call-id>...</call-id>
        <user>1001@acme.sip.internal</user>
        <contact>&quot;1001&quot; &lt;sip:1001@192.0.2.7:5062&gt;</contact>
        <agent>Yealink SIP-T46U</agent>
        <status>Registered(UDP)(unknown) exp(2026-11-23 18:35:04) expsecs(3582)</status>
        ...
    </registration>

``exp(...)`` is in the FreeSWITCH host's local time, so the expiry is taken from ``expsecs``
(seconds left when the command ran) against our clock.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.clock import utcnow

from .inbound_esl import EslError, InboundEventSocket

_EXPSECS = re.compile(r"expsecs\((-?\d+)\)")
_RPID = re.compile(r"\([^()]*\)$")  # "Registered(UDP)(unknown)": the presence rpid is not the status


@dataclass(frozen=True)
class Registration:
    user: str
    domain: str
    contact: str
    agent: str
    status: str  # e.g. "Registered(UDP)"
    expires_at: datetime | None
    network_ip: str
    network_port: str

    @property
    def address(self) -> str:
        return f"{self.user}@{self.domain}"


def parse_xmlstatus(text: str, now: datetime) -> list[Registration]:
    """The registrations in ``sofia xmlstatus profile P reg`` output; EslError if it is not that."""
    if not text.lstrip().startswith("<?xml"):
        raise EslError("FreeSWITCH answered %(answer)r instead of the registrations", answer=text.strip()[:80])
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise EslError("unreadable registrations from FreeSWITCH: %(reason)s", reason=exc) from None
    found = []
    for node in root.iter("registration"):
        user, _, domain = (node.findtext("user") or "").partition("@")
        status = node.findtext("status") or ""
        seconds = _EXPSECS.search(status)
        found.append(Registration(
            user=user, domain=domain.lower(), contact=node.findtext("contact") or "",
            agent=node.findtext("agent") or "", status=_RPID.sub("", status.split(" exp(", 1)[0]),
            expires_at=now + timedelta(seconds=int(seconds.group(1))) if seconds else None,
            network_ip=node.findtext("network-ip") or "", network_port=node.findtext("network-port") or ""))
    return found


class RegistrationStatus:
    """The registrations of a profile, or why they are not known (``error``; ``note``: its English line)."""

    def __init__(self, registrations: list[Registration] | None, error: EslError | None = None):
        self.registrations = registrations
        self.error = error
        self.note = str(error) if error is not None else ""
        self._by_seat: dict[str, list[Registration]] = {}
        for registration in registrations or ():
            self._by_seat.setdefault(registration.address, []).append(registration)

    @property
    def known(self) -> bool:
        return self.registrations is not None

    def of(self, address: str) -> list[Registration]:
        return self._by_seat.get(address.lower(), [])


def registration_status(settings, esl: InboundEventSocket | None = None) -> RegistrationStatus:
    """Ask FreeSWITCH (deadline ``inbound_esl_timeout_s``); never raises: when FreeSWITCH cannot
    be asked, the status says so instead."""
    own = esl is None
    esl = esl or InboundEventSocket.from_settings(settings)
    try:
        text = esl.api(f"sofia xmlstatus profile {settings.sip_profile} reg")
        return RegistrationStatus(parse_xmlstatus(text, utcnow()))
    except EslError as exc:
        return RegistrationStatus(None, exc)
    finally:
        if own:
            esl.close()
