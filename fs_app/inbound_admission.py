"""Admission of an inbound call (I/O side of ``fs_app.policy.inbound``): load the facts, decide,
take the number slot (``models.calls.reservations.reserve_inbound``: A10 counts inbound and outbound
calls together) and write the call record (C6), blocked or not."""
from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from models.ledger import balances
from models.calls.tables import CallRecord
from models.db import db_deadline, unit_of_work, write_transaction
from domain.errors import InvalidInput
from domain.numbers import normalize
from models.calls.reservations import reserve_inbound
from models.seats.tables import NumberLease
from models.tenancy.tables import Tenant

from fs_app.deadlines import admission_deadline
from fs_app.deferred_records import DEFERRED
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
    money = balances.available(tenant, now)
    facts = InboundFacts(did=did, lease_id=lease.id, paid_through=lease.paid_through, tenant_id=tenant.id,
                         tenant_code=tenant.code, tenant_status=tenant.status, bans=_bans(tenant.id, now),
                         available_fen=money.available_fen, rate_in_fen=tenant.rate_in_fen,
                         increment_s=tenant.billing_increment_s or 60, connect_fee_fen=tenant.connect_fee_fen)
    return facts, tenant, lease


def admit_inbound(call_uuid: str, dialled: str, caller: str, now: datetime, settings, *,
                  deadline: float | None = None) -> InboundAdmission:
    """Decide by ``deadline`` (default: ``admission_deadline_s`` from the socket connect); never
    raises: a database failure (connect, empty pool, lock, deadline) refuses with POLICY_UNAVAILABLE
    and the record is written when the database allows."""
    deadline = admission_deadline(settings) if deadline is None else deadline
    tenant = lease = None
    did = ""
    try:
        with db_deadline(deadline), unit_of_work():
            facts, tenant, lease = load_inbound_facts(dialled, now, settings.default_region)
            did = facts.did
            decision = decide_inbound(facts, now)
            if decision.allowed and not reserve_inbound(call_uuid, lease, now, settings.hold_lease_s,
                                                        settings.node_name):
                decision = InboundDecision(False, (Reason(NUMBER_BUSY, f"{did} carries its maximum of live calls"),))
    except Exception as exc:  # noqa: BLE001 - fail closed
        log.exception("inbound admission failed for %s", call_uuid)
        decision = InboundDecision(False, (Reason(POLICY_UNAVAILABLE, f"{type(exc).__name__}: {exc}"[:300]),))
    row = dict(
        direction="inbound", agent_uuid=call_uuid, callee_uuid=call_uuid,
        tenant=tenant.id if tenant is not None else None, caller_number=(caller or "")[:32],
        callee_number=(did or dialled)[:32], dialled=(dialled or "")[:64],
        decision="allowed" if decision.allowed else "blocked", reasons=list(decision.codes),
        facts={"record_allowed": decision.record_allowed,
               "reason_details": {r.code: r.detail for r in decision.reasons}},
        result="admitted" if decision.allowed else "blocked", created_at=now, node=settings.node_name)
    record = functools.partial(_record_once, row)
    record_id = None
    try:
        with db_deadline(max(deadline, time.monotonic() + 0.05)):
            record_id = record()
    except Exception as exc:  # noqa: BLE001 - the database is what failed: the deferred writer retries
        log.warning("inbound call %s not recorded yet (%s); deferred", call_uuid, exc)
        DEFERRED.add(f"inbound record of {call_uuid}", record)
    return InboundAdmission(call_uuid, decision, did, tenant, lease, record_id)


@unit_of_work()
def _record_once(row: dict) -> int:
    """Insert the inbound call's record unless a retry already did."""
    with write_transaction():
        existing = CallRecord.get_or_none((CallRecord.agent_uuid == row["agent_uuid"])
                                          & (CallRecord.direction == "inbound"))
        if existing is not None:
            return existing.id
        return CallRecord.insert(**row).execute()
