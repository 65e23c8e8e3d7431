"""What a call asks for: who is calling (as FreeSWITCH authenticated it), whom, under which campaign."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallRequest:
    """An outbound call as it reaches admission.

    ``seat_address`` is USER@DOMAIN of the calling seat, "" when the call has no seat at all (an
    automatic dialler context: A14). ``authenticated`` says the address comes from the SIP
    authentication (or from a header the operator explicitly trusts, lab use: A4); when it is
    False the address is not an identity and no tenant facts are loaded for it.
    """

    call_uuid: str
    dialled: str
    seat_address: str = ""
    authenticated: bool = True
    campaign_code: str = ""


def seat_identity(*, auth_user: str = "", auth_realm: str = "", from_user: str = "", from_host: str = "",
                  trust_from_header: bool = False) -> tuple[str, bool]:
    """(seat address, authenticated) from the channel's SIP variables (A4).

    The authenticated identity (sip_auth_username@sip_auth_realm) wins. Without it the From
    header is used only when the operator trusts it (setting ``trust_sip_from_header``); otherwise
    the call is unauthenticated and the From address is kept only for the record.
    """
    if auth_user and auth_realm:
        return f"{auth_user}@{auth_realm.lower()}", True
    claimed = f"{from_user}@{from_host.lower()}" if from_user and from_host else ""
    return claimed, bool(claimed) and trust_from_header
