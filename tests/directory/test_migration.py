"""Schema step 3 on a database from before it: tenants get SIP domains chosen from their seats,
seats keep theirs and get an empty credential (the directory leaves them to the static files)."""
from __future__ import annotations

from datetime import timedelta

from playhouse.migrate import migrate as run

import models
from models import Seat, Tenant
from models.tenancy import tenants
from domain.clock import utcnow
from models.migrations import SchemaVersion, current_version, latest_version, migrator
from models.accounts.tables import AdminSession


def back_to_version_2() -> None:
    """Undo the schema of step 3 and later, as a database created before them looks."""
    step = migrator()
    models.database.drop_tables([AdminSession])  # step 4
    run(step.drop_index("tenant", "tenant_sip_domain"))
    run(step.drop_column("tenant", "sip_domain"), step.drop_column("seat", "sip_a1_hash"))
    SchemaVersion.delete().where(SchemaVersion.version >= 3).execute()


def seat(tenant: Tenant, user: str, domain: str) -> None:
    now = utcnow()
    Seat.create(tenant=tenant, sip_user=user, sip_domain=domain, valid_from=now, valid_to=now + timedelta(days=30))


def test_step_3_chooses_each_tenants_domain_from_its_seats(db):
    for code in ("alpha", "beta", "gamma", "delta"):
        tenants.add_tenant(code, name=code, display_name=code, hotline="4001234567", seats=5, rate=1)
    alpha, beta, gamma, delta = (Tenant.get(Tenant.code == c) for c in ("alpha", "beta", "gamma", "delta"))
    seat(alpha, "1001", "alpha.example.com")
    seat(alpha, "1002", "alpha.example.com")
    seat(alpha, "1003", "shared.example.com")
    seat(beta, "2001", "shared.example.com")  # beta's only domain is shared with alpha
    seat(delta, "1001", "delta.example.com")  # the same user as alpha's, on its own domain
    try:
        back_to_version_2()
        assert current_version() == 2
        assert models.migrate() == list(range(3, latest_version() + 1))
        assert current_version() == latest_version()
        domains = {t.code: t.sip_domain for t in Tenant.select()}
        assert domains == {"alpha": "alpha.example.com", "beta": "beta.sip.internal", "gamma": "gamma.sip.internal",
                           "delta": "delta.example.com"}
        # every seat keeps its domain (its phone keeps working) and has no product credential yet
        assert sorted((s.sip_user, s.sip_domain, s.sip_a1_hash) for s in Seat.select()) == [
            ("1001", "alpha.example.com", ""), ("1001", "delta.example.com", ""), ("1002", "alpha.example.com", ""),
            ("1003", "shared.example.com", ""), ("2001", "shared.example.com", "")]
        assert models.migrate() == []  # idempotent
    finally:
        models.migrate()  # whatever happened, leave the shared test database at the latest schema
