"""One seat's SIP account, read with the call path's database access (``models.db.unit_of_work``
and statement ``directory_account`` of ``models.sql_statements``): a prepared, indexed lookup by
the unique (sip_user, sip_domain).

An account is answered for only while its seat could place a call (RULEBOOK A3): the seat is
active, inside its validity (valid_from <= now < valid_to), has a credential from the product,
and its tenant is not terminated. Everything else is "not found", and FreeSWITCH refuses the
phone before a call ever reaches the socket.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import sql_statements as sql
from models.db import unit_of_work

@dataclass(frozen=True)
class SipAccount:
    user: str
    domain: str
    a1_hash: str
    tenant: str
    role: str
    campaign: str  # the seat's default campaign code, "" when none
    pinned_number: str  # E.164, "" when none


def _dt(value):
    """SQLite returns text, PostgreSQL datetimes."""
    return value if value is None or isinstance(value, datetime) else datetime.fromisoformat(value)


def find_account(user: str, domain: str, now: datetime) -> SipAccount | None:
    """The seat's account if FreeSWITCH may let it register and call now, else None."""
    with unit_of_work():
        row = sql.one("directory_account", (user, domain.lower()))
    if row is None:
        return None
    active, valid_from, valid_to, a1_hash, role, tenant, status, campaign, number = row
    if not active or not a1_hash or status == "terminated":
        return None
    if not _dt(valid_from) <= now < _dt(valid_to):
        return None
    return SipAccount(user, domain.lower(), a1_hash, tenant, role, campaign or "", number or "")
