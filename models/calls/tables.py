"""Call records (one per attempt, blocked or connected; C6) and live-call holds (A3, A10, A13)."""
from __future__ import annotations

from peewee import (
    BigIntegerField,
    BooleanField,
    CharField,
    CompositeKey,
    DateField,
    DateTimeField,
    FloatField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from domain.clock import utcnow
from models.base import BaseModel, JSONField
from models.seats.tables import NumberLease, Seat
from models.tenancy.tables import Campaign, Tenant

CALL_RESULTS = (
    "blocked", "admitted", "ringing", "answered", "completed", "busy", "no_answer", "rejected",
    "failed", "opted_out", "abandoned",
)


class CallRecord(BaseModel):
    direction = CharField(max_length=8, default="outbound")  # outbound | inbound
    agent_uuid = CharField(max_length=64, index=True)  # the leg that came to the socket first
    callee_uuid = CharField(max_length=64, null=True, unique=True)  # charge key (C6)
    tenant = ForeignKeyField(Tenant, null=True, backref="calls", on_delete="CASCADE")
    seat = ForeignKeyField(Seat, null=True, on_delete="SET NULL")
    seat_address = CharField(max_length=300, default="")  # as presented, also for unknown seats
    campaign = ForeignKeyField(Campaign, null=True, on_delete="SET NULL")
    caller_number = CharField(max_length=32, default="")  # presented caller ID (a lease)
    callee_number = CharField(max_length=32, default="")  # E.164, masked after retention (D1)
    dialled = CharField(max_length=64, default="")  # as dialled
    decision = CharField(max_length=8, default="blocked")  # allowed | blocked
    reasons = JSONField(default=list)  # every failing reason code
    facts = JSONField(null=True)  # what the decision looked at
    decide_ms = FloatField(default=0.0)
    max_duration_s = IntegerField(null=True)
    result = CharField(max_length=16, default="blocked", index=True)
    hangup_cause = CharField(max_length=64, default="")
    created_at = DateTimeField(default=utcnow)
    answered_at = DateTimeField(null=True)
    ended_at = DateTimeField(null=True)
    billsec = IntegerField(default=0)
    billed_minutes = IntegerField(default=0)
    charge_fen = BigIntegerField(default=0)
    charged = BooleanField(default=False)
    recording_digit = CharField(max_length=1, default="")
    recording_consent_at = DateTimeField(null=True)
    recording_path = TextField(default="")
    prompts = JSONField(default=list)  # prompt names played, in order
    node = CharField(max_length=100, default="")
    cdr_billsec = IntegerField(null=True)  # from reconciliation
    cdr_mismatch = BooleanField(default=False)
    numbers_masked = BooleanField(default=False)

    class Meta:
        indexes = (
            (("tenant", "created_at"), False),
            (("callee_number", "created_at"), False),
            (("seat", "created_at"), False),
            (("created_at",), False),
        )


class Hold(BaseModel):
    """A live call's reservation: seat slot, number slot and the balance held for it.

    Active while ``released_at`` is null and ``expires_at`` is in the future; the process that
    owns the call heartbeats ``expires_at``, so a crashed process's holds lapse by themselves.
    """

    call_uuid = CharField(max_length=64, unique=True)  # agent-leg uuid
    tenant = ForeignKeyField(Tenant, backref="holds", on_delete="CASCADE")
    seat = ForeignKeyField(Seat, null=True, on_delete="CASCADE")
    number = ForeignKeyField(NumberLease, null=True, on_delete="CASCADE")
    callee_number = CharField(max_length=32, default="")
    direction = CharField(max_length=8, default="outbound")
    amount_fen = BigIntegerField(default=0)
    node = CharField(max_length=100, default="")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField()
    released_at = DateTimeField(null=True)

    @staticmethod
    def live_at(now):
        """The condition under which a hold counts at ``now`` (seat, number, concurrency and money):
        not released and its lease not run out."""
        return Hold.released_at.is_null() & (Hold.expires_at > now)

    class Meta:
        indexes = (
            (("tenant", "released_at"), False),
            (("seat", "released_at"), False),
            (("number", "released_at"), False),
        )


class Attempt(BaseModel):
    call_uuid = CharField(max_length=64, unique=True)  # agent-leg uuid, as in Hold
    tenant = ForeignKeyField(Tenant, on_delete="CASCADE")
    callee_number = CharField(max_length=32)  # E.164
    caller_lease = ForeignKeyField(NumberLease, null=True, on_delete="SET NULL")
    at = DateTimeField()

    class Meta:
        indexes = (
            (("callee_number", "at"), False),  # per-callee counts, across tenants
            (("caller_lease", "at"), False),  # a number's use today
        )


class LeaseDailyUse(BaseModel):
    """Attempts presented from one leased number on one calendar day in Asia/Shanghai: how A10
    ranks equal numbers ("the one least used today"). Kept in the transaction that writes or
    uncounts the attempt, so admission reads one row per number instead of counting that number's
    attempts of the day, which cost ~0.07 ms per thousand attempts inside the admission lock."""

    lease = ForeignKeyField(NumberLease, on_delete="CASCADE")
    day = DateField()
    attempts = IntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("lease", "day")
