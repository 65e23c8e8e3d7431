"""Complaints (RULEBOOK D5) and the complaint-ratio guard (A15).

Filing a complaint logs it with its channel and the tenant's answer deadline, puts the number on
the tenant's do-not-call list, and evaluates the guard, all in one transaction. The guard bans
the tenant's ``outbound`` function until an operator reviews it (``until`` = None) when, over the
last ``complaint_window_days``, complaints exceed ``complaint_ratio_per_1000`` per 1,000 connected
(answered) calls and number at least ``complaint_min_count``. A guard ban is never duplicated;
once an operator lifts it, only complaints received after the lift count again (the review
closed the earlier ones), so the periodic job does not re-ban a reviewed tenant for old news.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from fractions import Fraction

from domain.bounds import ROW_ID, shown
from domain.clock import utcnow
from domain.errors import ForeignReference, InvalidInput, NotFound
from domain.numbers import normalize
from models.calls.reservations import lock_tenant
from models.calls.tables import CallRecord
from models.complaints.audit import audit
from models.complaints.tables import COMPLAINT_CHANNELS, Complaint
from models.db import write_transaction
from models.lists.list_entries import add_dnc_entry
from models.tenancy.tables import Tenant, TenantBan
from models.tenancy.tenants import get_tenant

GUARD_ACTOR = "complaint-guard"


@dataclass(frozen=True)
class GuardLimits:
    ratio_per_1000: float = 1.0
    min_count: int = 3
    window_days: int = 7


@dataclass(frozen=True)
class GuardResult:
    tenant_code: str
    complaints: int
    connected: int
    over: bool  # the ratio and the minimum count are exceeded
    ban: TenantBan | None = None  # the ban created now, if any

    def summary(self) -> str:
        state = "banned outbound" if self.ban else ("over, already banned" if self.over else "ok")
        return f"{self.tenant_code}: {self.complaints} complaint(s) / {self.connected} connected call(s): {state}"


def _over(complaints: int, connected: int, limits: GuardLimits) -> bool:
    # complaints / connected > ratio / 1000, in exact arithmetic (no float rounding at the edge)
    ratio = Fraction(str(limits.ratio_per_1000))
    return complaints >= limits.min_count and complaints * 1000 > ratio * connected


def _guard_ban_in_force(tenant_id: int, now: datetime) -> TenantBan | None:
    return (TenantBan.select()
            .where((TenantBan.tenant == tenant_id) & (TenantBan.function == "outbound") & TenantBan.lifted_at.is_null()
                   & TenantBan.until.is_null())
            .first())


def _window_start(tenant_id: int, now: datetime, limits: GuardLimits) -> datetime:
    start = now - timedelta(days=limits.window_days)
    last_review = (TenantBan.select(TenantBan.lifted_at)
                   .where((TenantBan.tenant == tenant_id) & (TenantBan.created_by == GUARD_ACTOR)
                          & TenantBan.lifted_at.is_null(False))
                   .order_by(TenantBan.lifted_at.desc()).first())
    return max(start, last_review.lifted_at) if last_review else start


def evaluate_complaint_guard(tenant: Tenant, now: datetime, limits: GuardLimits) -> GuardResult:
    """Ban the tenant's outbound calling if its complaint ratio is over the threshold."""
    with write_transaction():
        lock_tenant(tenant.id)  # two runners (or a runner and a complaint) decide one at a time
        since = _window_start(tenant.id, now, limits)
        complaints = (Complaint.select()
                      .where((Complaint.tenant == tenant.id) & (Complaint.received_at > since)
                             & (Complaint.received_at <= now)).count())
        connected = (CallRecord.select()
                     .where((CallRecord.tenant == tenant.id) & (CallRecord.created_at > since)
                            & (CallRecord.created_at <= now) & CallRecord.answered_at.is_null(False)).count())
        over = _over(complaints, connected, limits)
        ban = None
        if over and _guard_ban_in_force(tenant.id, now) is None:
            reason = (f"complaint ratio: {complaints} complaint(s) per {connected} connected call(s) since "
                      f"{since:%Y-%m-%d %H:%M} UTC (threshold {limits.ratio_per_1000} per 1000, at least "
                      f"{limits.min_count})")
            ban = TenantBan.create(tenant=tenant.id, function="outbound", until=None, reason=reason,
                                   created_by=GUARD_ACTOR, created_at=now)
            audit(GUARD_ACTOR, "tenant.ban", tenant=tenant, target=tenant.code, function="outbound", until=None,
                  reason=reason, complaints=complaints, connected=connected)
    return GuardResult(tenant.code, complaints, connected, over, ban)


def run_complaint_guard(now: datetime, limits: GuardLimits) -> list[GuardResult]:
    """The periodic job: every tenant with a complaint in the window is evaluated."""
    since = now - timedelta(days=limits.window_days)
    tenant_ids = [row[0] for row in Complaint.select(Complaint.tenant).where(Complaint.received_at > since)
                  .distinct().tuples()]
    return [evaluate_complaint_guard(tenant, now, limits)
            for tenant in Tenant.select().where(Tenant.id.in_(tenant_ids)).order_by(Tenant.code)] if tenant_ids else []



@dataclass(frozen=True)
class Filed:
    complaint: Complaint
    guard: GuardResult


def check_call_of_tenant(call_uuid: str, tenant: Tenant) -> None:
    """A complaint may name one of its tenant's calls (either leg's uuid), never another's."""
    of_tenant = CallRecord.select().where(
        (CallRecord.tenant == tenant) & ((CallRecord.agent_uuid == call_uuid) | (CallRecord.callee_uuid == call_uuid)))
    if not of_tenant.exists():
        raise ForeignReference("call", call_uuid, tenant.code,
                               "no call %(call_uuid)r of tenant %(tenant_code)s: check the call id", call_uuid=call_uuid, tenant_code=tenant.code)


def file_complaint(tenant_code: str, number: str, *, channel: str, text: str = "", call_uuid: str = "",
                   received_at: datetime | None = None, answer_hours: int = 2, limits: GuardLimits = GuardLimits(),
                   region: str = "CN", actor: str = "system") -> Filed:
    tenant = get_tenant(tenant_code)
    if channel not in COMPLAINT_CHANNELS:
        raise InvalidInput("invalid channel %(channel)r: expected one of %(choices)s", channel=channel,
                           choices=", ".join(COMPLAINT_CHANNELS))
    e164 = normalize(number, region)
    call_uuid = (call_uuid or "").strip()
    if call_uuid:
        check_call_of_tenant(call_uuid, tenant)
    received = received_at or utcnow()
    with write_transaction():
        complaint = Complaint.create(tenant=tenant, number=e164, channel=channel, text=(text or "").strip(),
                                     call_uuid=call_uuid, received_at=received,
                                     due_at=received + timedelta(hours=answer_hours), created_by=actor)
        audit(actor, "complaint.add", tenant=tenant, target=e164, channel=channel, complaint=complaint.id)
        add_dnc_entry(e164, tenant=tenant, reason=f"complaint #{complaint.id} ({channel})", source="complaint",
                      source_call=complaint.call_uuid, actor=actor)
        guard = evaluate_complaint_guard(tenant, received, limits)
    return Filed(complaint, guard)


def answer_complaint(complaint_id: int, text: str, *, at: datetime | None = None, actor: str = "system") -> Complaint:
    text = (text or "").strip()
    if not text:
        raise InvalidInput("the answer must not be empty")
    if isinstance(complaint_id, int) and ROW_ID.problem(complaint_id):  # no such row; the query would overflow
        raise NotFound("unknown complaint %(complaint_id)s", complaint_id=shown(complaint_id))
    complaint = Complaint.get_or_none(Complaint.id == complaint_id)
    if complaint is None:
        raise NotFound("unknown complaint %(complaint_id)s", complaint_id=complaint_id)
    if complaint.answered_at is not None:
        raise InvalidInput("complaint %(complaint_id)s was already answered at %(answered_at)s", complaint_id=complaint_id,
                           answered_at=complaint.answered_at)
    answered = at or utcnow()
    with write_transaction():
        Complaint.update(answered_at=answered, answer=text).where(Complaint.id == complaint_id).execute()
        audit(actor, "complaint.answer", tenant=complaint.tenant_id, target=complaint.number, complaint=complaint_id,
              late=answered > complaint.due_at)
    return Complaint.get_by_id(complaint_id)


def is_overdue(complaint: Complaint, now: datetime) -> bool:
    """Unanswered past its deadline, or answered after it (D5: overdue complaints are flagged)."""
    if complaint.answered_at is None:
        return now > complaint.due_at
    return complaint.answered_at > complaint.due_at


def list_complaints(*, tenant_code: str | None = None, overdue_only: bool = False, now: datetime | None = None):
    """[(complaint, overdue)] newest first."""
    now = now or utcnow()
    query = Complaint.select(Complaint, Tenant).join(Tenant).order_by(Complaint.received_at.desc(), Complaint.id.desc())
    if tenant_code:
        query = query.where(Complaint.tenant == get_tenant(tenant_code))
    if overdue_only:
        query = query.where((Complaint.answered_at.is_null() & (Complaint.due_at < now))
                            | (Complaint.answered_at > Complaint.due_at))
    return [(c, is_overdue(c, now)) for c in query]
