"""Admission of an inbound call (I/O side of ``fs_app.policy.inbound``): load the facts, decide,
take the number slot (``models.reservations.reserve_inbound``: A10 counts inbound and outbound
calls together) and write the call record (C6), blocked or not."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from models import billing
from models.calls import CallRecord
from models.db import unit_of_work, write_transaction
from models.errors import InvalidInput
from models.numbers import normalize
from models.reservations import reserve_inbound
from models.tenancy import NumberLease, Tenant

from fs_app.policy.inbound import InboundDecision, InboundFacts, decide_inbound
from fs_app.policy.loader import _bans
from fs_app.policy.reasons import NUMBER_BUSY, POLICY_UNAVAILABLE, Reason

log = logging.getLogger("fsapp.admission.inbound")


@dataclass(frozen=True)
class InboundAdmission:
    call_uuid: str
    decision: InboundDecision
    did: str
    tenant: Tenant | None = None
    lease: NumberLease | None = None
    record_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def codes(self) -> tuple[str, ...]:
        return self.decision.codes


def load_inbound_facts(dialled: str, now: datetime, region: str) -> tuple[InboundFacts, Tenant | None,
                                                                           NumberLease | None]:
    try:
        did = normalize(dialled, region)
    except InvalidInput:
        return InboundFacts(did=""), None, None
    lease = NumberLease.get_or_none((NumberLease.number == did) & NumberLease.released_at.is_null())
    if lease is None:
        return InboundFacts(did=did), None, None
    tenant = Tenant.get_by_id(lease.tenant_id)
    money = billing.available(tenant, now)
    facts = InboundFacts(did=did, lease_id=lease.id, paid_through=lease.paid_through, tenant_id=tenant.id,
                         tenant_code=tenant.code, tenant_status=tenant.status, bans=_bans(tenant.id, now),
                         available_fen=money.available_fen, rate_in_fen=tenant.rate_in_fen,
                         increment_s=tenant.billing_increment_s or 60, connect_fee_fen=tenant.connect_fee_fen)
    return facts, tenant, lease


@unit_of_work()
def admit_inbound(call_uuid: str, dialled: str, caller: str, now: datetime, settings) -> InboundAdmission:
    tenant = lease = None
    did = ""
    try:
        facts, tenant, lease = load_inbound_facts(dialled, now, settings.default_region)
        did = facts.did
        decision = decide_inbound(facts, now)
        if decision.allowed and not reserve_inbound(call_uuid, lease, now, settings.hold_lease_s, settings.node_name):
            decision = InboundDecision(False, (Reason(NUMBER_BUSY, f"{did} carries its maximum of live calls"),))
    except Exception as exc:  # noqa: BLE001 - fail closed
        log.exception("inbound admission failed for %s", call_uuid)
        decision = InboundDecision(False, (Reason(POLICY_UNAVAILABLE, f"{type(exc).__name__}: {exc}"[:300]),))
    record_id = None
    try:
        with write_transaction():
            record_id = CallRecord.insert(
                direction="inbound", agent_uuid=call_uuid, callee_uuid=call_uuid,
                tenant=tenant.id if tenant is not None else None, caller_number=(caller or "")[:32],
                callee_number=(did or dialled)[:32], dialled=(dialled or "")[:64],
                decision="allowed" if decision.allowed else "blocked", reasons=list(decision.codes),
                facts={"record_allowed": decision.record_allowed,
                       "reason_details": {r.code: r.detail for r in decision.reasons}},
                result="admitted" if decision.allowed else "blocked", created_at=now, node=settings.node_name,
            ).execute()
    except Exception:  # noqa: BLE001
        log.exception("could not record inbound call %s", call_uuid)
    return InboundAdmission(call_uuid, decision, did, tenant, lease, record_id)
