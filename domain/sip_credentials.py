"""SIP credentials of seats (RULEBOOK D7) and the tenants' SIP domains.

A seat's password is generated here, shown once by the caller and never stored: the seat keeps
FreeSWITCH's ``a1-hash``, MD5 of ``user:domain:password`` (RFC 2617's HA1 with the domain as the
realm, which is what FreeSWITCH challenges with: ``challenge-realm=auto_from``). The directory
hands that hash to FreeSWITCH, which checks digest responses against it without ever seeing the
password. MD5 is what SIP digest needs; the password's strength (about 119 random bits) is what
makes the stored hash useless to an attacker.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import string

from domain.errors import InvalidInput

# Letters and digits only: every softphone and desk phone takes them, typed or provisioned.
PASSWORD_ALPHABET = string.ascii_letters + string.digits
PASSWORD_LENGTH = 20  # log2(62) * 20 = 119 bits

# The base of the default tenant domains (<code>.<base>); the setting sip_base_domain overrides it.
DEFAULT_SIP_BASE_DOMAIN = "sip.internal"
_DOMAIN = re.compile(r"^(?=.{1,200}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def generate_password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))


def a1_hash(user: str, domain: str, password: str) -> str:
    """FreeSWITCH's ``a1-hash`` directory parameter: hex MD5 of ``user:domain:password``."""
    return hashlib.md5(f"{user}:{domain}:{password}".encode("utf-8")).hexdigest()


def check_domain(domain: str) -> str:
    """A DNS name in lower case, or InvalidInput."""
    value = (domain or "").strip().lower().rstrip(".")
    if not _DOMAIN.match(value):
        raise InvalidInput("invalid SIP domain %(domain)r: expected a DNS name such as acme.pbx.example.com", domain=domain)
    return value


def default_domain(tenant_code: str, base: str = DEFAULT_SIP_BASE_DOMAIN) -> str:
    """``<code>.<base>``, the code made a DNS label (lower case, '_' and '.' become '-')."""
    label = re.sub(r"[^a-z0-9-]", "-", tenant_code.lower()).strip("-")[:63].strip("-") or "tenant"
    return check_domain(f"{label}.{base}")
