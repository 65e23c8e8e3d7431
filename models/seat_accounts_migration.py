"""Schema step 3: every tenant gets its SIP domain, every seat a place for its a1-hash.

Existing seats keep the ``sip_domain`` they were created with (their phones keep registering
there). Each tenant's domain is chosen from its seats: the domain most of them use, provided no
other tenant has a seat on it; otherwise (no seats, or a domain shared with another tenant) the
default ``<code>.sip.internal``. Seats on a shared domain keep working (a seat is still found by
its unique user@domain); new seats go to the tenant's own domain. No seat has a product
credential yet: until `fsapp seat password` gives it one, the directory answers "not found" for
it and FreeSWITCH falls back to its static XML files, where the hand-written users still are
(docs/freeswitch.md, "Moving existing seats").
"""
from __future__ import annotations

from collections import Counter

from peewee import CharField
from playhouse.migrate import migrate as run

from models.db import database
from domain.sip_credentials import default_domain
from models.tenancy.tables import Tenant


def _columns(table: str) -> set[str]:
    return {column.name for column in database.get_columns(table)}


def _indexes(table: str) -> set[str]:
    return {index.name for index in database.get_indexes(table)}


def upgrade(migrator) -> None:
    if "sip_domain" not in _columns("tenant"):
        run(migrator.add_column("tenant", "sip_domain", CharField(max_length=200, null=True)))
    if "sip_a1_hash" not in _columns("seat"):
        run(migrator.add_column("seat", "sip_a1_hash", CharField(max_length=32, default="")))
    _choose_domains()
    if "tenant_sip_domain" not in _indexes("tenant"):
        run(migrator.add_index("tenant", ("sip_domain",), True))


def _choose_domains() -> None:
    tenants = database.execute_sql(
        "SELECT id, code FROM tenant WHERE sip_domain IS NULL ORDER BY id").fetchall()
    if not tenants:
        return
    seat_domains: dict[int, Counter] = {}
    owners: dict[str, set[int]] = {}
    for tenant_id, domain in database.execute_sql("SELECT tenant_id, sip_domain FROM seat").fetchall():
        seat_domains.setdefault(tenant_id, Counter())[domain] += 1
        owners.setdefault(domain, set()).add(tenant_id)
    taken = {row[0] for row in database.execute_sql(
        "SELECT sip_domain FROM tenant WHERE sip_domain IS NOT NULL").fetchall()}
    for tenant_id, code in tenants:
        chosen = None
        for domain, _ in sorted(seat_domains.get(tenant_id, Counter()).items(), key=lambda kv: (-kv[1], kv[0])):
            if owners[domain] == {tenant_id} and domain not in taken:
                chosen = domain
                break
        if chosen is None:
            chosen = base = default_domain(code)
            suffix = 2
            while chosen in taken or chosen in owners:
                chosen, suffix = f"{base.split('.', 1)[0]}-{suffix}.{base.split('.', 1)[1]}", suffix + 1
        taken.add(chosen)
        Tenant.update(sip_domain=chosen).where(Tenant.id == tenant_id).execute()
