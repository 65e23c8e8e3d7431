"""FreeSWITCH directory XML for one SIP account, and mod_xml_curl's "not found" answer.

The user sits in its tenant's domain with what sofia needs to check a digest response
(``a1-hash``), the domain's ``dial-string`` (how ``user/<id>@<domain>`` reaches a registered
phone, for inbound calls to agents) and the channel variables the dialplan may use. Those are
named ``fsapp_*`` and documented in docs/freeswitch.md; a variable whose value the seat does not
have is left out. ``cacheable`` (milliseconds) lets FreeSWITCH keep the user in its XML cache.
"""
from __future__ import annotations

from xml.sax.saxutils import quoteattr

from .lookup import SipAccount

NOT_FOUND = (b'<document type="freeswitch/xml">\n  <section name="result">\n'
             b'    <result status="not found"/>\n  </section>\n</document>\n')

USER_CONTEXT = "fsapp_agents"
DIAL_STRING = ("{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
               "${sofia_contact(*/${dialed_user}@${dialed_domain})}")


def variables(account: SipAccount) -> list[tuple[str, str]]:
    """The channel variables a call from this seat starts with (documented in docs/freeswitch.md)."""
    found = [
        ("user_context", USER_CONTEXT),
        ("fsapp_tenant", account.tenant),
        ("fsapp_seat", f"{account.user}@{account.domain}"),
        ("fsapp_seat_role", account.role),
        ("fsapp_seat_campaign", account.campaign),
        ("fsapp_seat_number", account.pinned_number),
    ]
    return [(name, value) for name, value in found if value]


def user_document(account: SipAccount, cache_ms: int) -> bytes:
    cacheable = f" cacheable={quoteattr(str(cache_ms))}" if cache_ms > 0 else ""
    lines = "".join(f"                <variable name={quoteattr(name)} value={quoteattr(value)}/>\n"
                    for name, value in variables(account))
    return (
        '<document type="freeswitch/xml">\n'
        '  <section name="directory">\n'
        f"    <domain name={quoteattr(account.domain)}>\n"
        f"      <params>\n        <param name=\"dial-string\" value={quoteattr(DIAL_STRING)}/>\n      </params>\n"
        f"      <groups>\n        <group name={quoteattr(USER_CONTEXT)}>\n          <users>\n"
        f"            <user id={quoteattr(account.user)}{cacheable}>\n"
        f"              <params>\n                <param name=\"a1-hash\" value={quoteattr(account.a1_hash)}/>\n"
        "              </params>\n"
        f"              <variables>\n{lines}              </variables>\n"
        "            </user>\n          </users>\n        </group>\n      </groups>\n"
        "    </domain>\n  </section>\n</document>\n"
    ).encode("utf-8")
