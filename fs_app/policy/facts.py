"""Everything a decision looks at, as plain immutable values (no models, no database).

The loader (``fs_app.policy.loader``) fills these from a few indexed queries; tests build them
directly. Times are naive UTC. Lists hold only what matters for this call: the tenant's unlifted
bans, its leases that could present this callee, the callee's do-not-call entries and consent
records, and the callee's recent attempts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .callee import Callee
from .limits import Limits


@dataclass(frozen=True)
class TenantFacts:
    id: int
    code: str
    status: str = "active"
    industry: str = ""
    industry_approved: bool = False
    seats_purchased: int = 1
    rate_out_fen: int = 0
    connect_fee_fen: int = 0
    billing_increment_s: int = 60
    balance_fen: int = 0
    calling_windows: str = ""  # the tenant's own, "" = platform windows


@dataclass(frozen=True)
class SeatFacts:
    id: int
    address: str
    tenant_id: int
    valid_from: datetime
    valid_to: datetime
    active: bool = True
    pinned_lease_id: int | None = None


@dataclass(frozen=True)
class CampaignFacts:
    id: int
    code: str
    status: str
    record: bool = True


@dataclass(frozen=True)
class BanFacts:
    function: str  # account | outbound | inbound | recording
    until: datetime | None  # None: until an operator lifts it


@dataclass(frozen=True)
class LeaseFacts:
    id: int
    number: str
    province: str
    city: str
    paid_through: datetime
    max_calls: int = 1
    live_calls: int = 0  # live holds on the number, inbound and outbound
    used_today: int = 0  # attempts presented today (Asia/Shanghai calendar day)


@dataclass(frozen=True)
class DncFacts:
    scope: str  # platform | tenant
    created_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class ConsentFacts:
    id: int
    obtained_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    callee: Callee
    limits: Limits
    seat: SeatFacts | None = None
    tenant: TenantFacts | None = None
    campaign: CampaignFacts | None = None
    bans: tuple[BanFacts, ...] = ()
    leases: tuple[LeaseFacts, ...] = ()
    dnc: tuple[DncFacts, ...] = ()
    consents: tuple[ConsentFacts, ...] = ()
    tenant_attempts: tuple[datetime, ...] = ()  # this tenant to this callee, last 30 days
    global_attempts: tuple[datetime, ...] = ()  # every tenant to this callee, last 24 hours
    seat_live_calls: int = 0
    tenant_live_outbound: int = 0
    held_fen: int = 0  # money held by the tenant's live calls
    debug: dict = field(default_factory=dict, compare=False)  # queries, load_ms

    @property
    def available_fen(self) -> int:
        return (self.tenant.balance_fen if self.tenant else 0) - self.held_fen
