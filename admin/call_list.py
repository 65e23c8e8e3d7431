"""The call-record list: filters and keyset paging on (created_at, id), newest first.

Paging never uses OFFSET: a page starts strictly after the last row of the previous one, so a
deep page costs what the first one does (indexes: (created_at), (tenant, created_at),
(callee_number, created_at), (seat, created_at))."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from peewee import Value, fn

from models.calls import CALL_RESULTS, CallRecord
from models.clock import local_day_bounds
from models.numbers import try_normalize
from models.tenancy import Campaign, Tenant

from .form_values import optional_local_date

PAGE_SIZE = 50
_CURSOR = re.compile(r"^(\d{8}T\d{6}\.\d{6})_(\d{1,18})$")
_REASON = re.compile(r"^[A-Z_]{2,40}$")


@dataclass
class CallFilters:
    """What the user asked for; ``problems`` lists filters that could not be understood."""

    tenant_id: int | None = None
    seat: str = ""
    campaign: str = ""
    number: str = ""
    result: str = ""
    reason: str = ""
    date_from: str = ""
    date_to: str = ""
    problems: list[str] = field(default_factory=list)

    @classmethod
    def from_args(cls, args, tenant_id: int | None) -> "CallFilters":
        filters = cls(tenant_id=tenant_id, seat=args.get("seat", "").strip(),
                      campaign=args.get("campaign", "").strip(), number=args.get("number", "").strip(),
                      result=args.get("result", "").strip(), reason=args.get("reason", "").strip().upper(),
                      date_from=args.get("from", "").strip(), date_to=args.get("to", "").strip())
        if filters.result and filters.result not in CALL_RESULTS:
            filters.problems.append("result")
        if filters.reason and not _REASON.match(filters.reason):
            filters.problems.append("reason")
        if filters.number and try_normalize(filters.number) is None:
            filters.problems.append("number")
        for name in ("date_from", "date_to"):
            if getattr(filters, name) and optional_local_date(getattr(filters, name)) is None:
                filters.problems.append(name)
        return filters

    def query_args(self) -> dict:
        """The filters as URL arguments (for paging links and the export link)."""
        pairs = dict(seat=self.seat, campaign=self.campaign, number=self.number, result=self.result,
                     reason=self.reason, **{"from": self.date_from, "to": self.date_to})
        return {k: v for k, v in pairs.items() if v}

    def apply(self, query):
        if self.tenant_id is not None:
            query = query.where(CallRecord.tenant == self.tenant_id)
        if self.seat:
            query = query.where(CallRecord.seat_address == self.seat)
        if self.campaign:
            campaigns = Campaign.select(Campaign.id).where(Campaign.code == self.campaign)
            if self.tenant_id is not None:
                campaigns = campaigns.where(Campaign.tenant == self.tenant_id)
            ids = [c.id for c in campaigns]
            # an unknown campaign matches nothing: answer without scanning the calls
            query = query.where(CallRecord.campaign.in_(ids) if ids else CallRecord.id < 0)
        if self.number and "number" not in self.problems:
            query = query.where(CallRecord.callee_number == try_normalize(self.number))
        if self.result and "result" not in self.problems:
            query = query.where(CallRecord.result == self.result)
        if self.reason and "reason" not in self.problems:
            # reasons is a JSON list stored as text: match the quoted code, bypassing the JSON converter
            query = query.where(CallRecord.reasons ** Value(f'%"{self.reason}"%', converter=False))
        start = optional_local_date(self.date_from)
        if start is not None:
            query = query.where(CallRecord.created_at >= local_day_bounds(start)[0])
        end = optional_local_date(self.date_to)
        if end is not None:
            query = query.where(CallRecord.created_at < local_day_bounds(end)[1])
        return query


def encode_cursor(call: CallRecord) -> str:
    return f"{call.created_at:%Y%m%dT%H%M%S.%f}_{call.id}"


def decode_cursor(text: str) -> tuple[datetime, int] | None:
    match = _CURSOR.match(text or "")
    if not match:
        return None
    return datetime.strptime(match.group(1), "%Y%m%dT%H%M%S.%f"), int(match.group(2))


# What the list and the export show: not the decision's facts, which can be large.
LIST_COLUMNS = (
    CallRecord.id, CallRecord.created_at, CallRecord.tenant, CallRecord.seat_address, CallRecord.direction,
    CallRecord.caller_number, CallRecord.callee_number, CallRecord.campaign, CallRecord.decision,
    CallRecord.reasons, CallRecord.result, CallRecord.answered_at, CallRecord.ended_at, CallRecord.billsec,
    CallRecord.billed_minutes, CallRecord.charge_fen, CallRecord.recording_digit, CallRecord.recording_path,
    CallRecord.agent_uuid, CallRecord.callee_uuid,
)


def newest_first(filters: CallFilters, after: tuple[datetime, int] | None = None):
    query = filters.apply(CallRecord.select(*LIST_COLUMNS))
    if after is not None:
        created_at, call_id = after
        # (created_at, id) < (after): written as a range on created_at so the index bounds the scan
        query = query.where((CallRecord.created_at <= created_at)
                            & ~((CallRecord.created_at == created_at) & (CallRecord.id >= call_id)))
    return query.order_by(CallRecord.created_at.desc(), CallRecord.id.desc())


@dataclass
class CallPage:
    calls: list[CallRecord]
    next_cursor: str | None
    tenant_codes: dict[int, str]
    campaign_codes: dict[int, str]


def page(filters: CallFilters, cursor: str = "", size: int = PAGE_SIZE) -> CallPage:
    rows = list(newest_first(filters, decode_cursor(cursor)).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    return CallPage(rows, encode_cursor(rows[-1]) if more else None, *labels_for(rows))


def labels_for(rows: list[CallRecord]) -> tuple[dict[int, str], dict[int, str]]:
    """Tenant and campaign codes of a page's rows, in two small queries (no join in the big one)."""
    tenant_ids = {r.tenant_id for r in rows if r.tenant_id}
    campaign_ids = {r.campaign_id for r in rows if r.campaign_id}
    tenants = dict(Tenant.select(Tenant.id, Tenant.code).where(Tenant.id.in_(tenant_ids)).tuples()) if tenant_ids else {}
    campaigns = (dict(Campaign.select(Campaign.id, Campaign.code).where(Campaign.id.in_(campaign_ids)).tuples())
                 if campaign_ids else {})
    return tenants, campaigns


def iterate_all(filters: CallFilters, limit: int, chunk: int = 2000):
    """Every matching call, newest first, in keyset chunks (for the CSV export)."""
    after = None
    produced = 0
    while produced < limit:
        rows = list(newest_first(filters, after).limit(min(chunk, limit - produced)))
        if not rows:
            return
        yield rows
        produced += len(rows)
        after = (rows[-1].created_at, rows[-1].id)


def count_matching(filters: CallFilters) -> int:
    return filters.apply(CallRecord.select(fn.COUNT(CallRecord.id))).scalar()
