"""Helpers for the money tests: a tenant with a leased number, and live calls admitted the way
admission does it (a call record with the callee uuid chosen in advance, and a hold)."""
import uuid
from datetime import timedelta

import pytest

from models import CallRecord, Hold, LedgerEntry, Tenant
from models.ledger import topups
from models.tenancy import tenants
from models.ledger.posting import verify_tenant_ledger
from domain.clock import utcnow

LEASED = "+862012345678"  # the caller ID in the real CDRs of fs-transcripts/cdr


def make_tenant(code="acme", *, rate=12, inbound_rate=None, connect_fee=0, seat_rent=0, seats=5,
                balance=0, promo=0):
    tenants.add_tenant(code, name=code, display_name=code, hotline="4008123456", seats=seats, rate=rate,
                            inbound_rate=inbound_rate, connect_fee=connect_fee, seat_rent=seat_rent)
    tenants.set_tenant(code, status="active")
    if balance:
        topups.topup(code, balance)
    if promo:
        topups.topup(code, promo, promo=True)
    return Tenant.get(Tenant.code == code)


def admit(tenant, *, hold_fen, agent_uuid=None, callee_uuid=None, callee="+8613800138000", dialled="",
          direction="outbound", lease_s=90, at=None, max_duration_s=None):
    """What admission leaves behind for an allowed call: its record and its hold."""
    at = at or utcnow()
    agent_uuid = agent_uuid or str(uuid.uuid4())
    callee_uuid = callee_uuid or str(uuid.uuid4())
    record = CallRecord.create(direction=direction, agent_uuid=agent_uuid, callee_uuid=callee_uuid, tenant=tenant.id,
                               caller_number=LEASED, callee_number=callee, dialled=dialled or callee,
                               decision="allowed", result="admitted", created_at=at, max_duration_s=max_duration_s)
    hold = Hold.create(call_uuid=agent_uuid, tenant=tenant.id, direction=direction, amount_fen=hold_fen,
                       expires_at=at + timedelta(seconds=lease_s), created_at=at)
    return record, hold


def fresh(model_instance):
    return type(model_instance).get_by_id(model_instance.id)


def assert_ledger_sound(tenant):
    assert verify_tenant_ledger(fresh(tenant)) == []


def call_entries(callee_uuid):
    return list(LedgerEntry.select().where(LedgerEntry.call_uuid == callee_uuid))


@pytest.fixture
def acme(db):
    return make_tenant("acme", rate=12, balance=10_000)
