"""The call-record list: filters and keyset paging on (created_at, id), newest first.

Paging never uses OFFSET: a page starts strictly after the last row of the previous one, so a
deep page costs what the first one does (indexes: (created_at), (tenant, created_at),
(callee_number, created_at), (seat, created_at)).

The reason filter: a call's reasons are a JSON list in a text column, which no index can search
inside. Blocked calls have a partial index on (reasons, created_at) (migration 5), and the
distinct reason lists are few (combinations of ~20 codes), so the filter first walks that index
from one distinct list to the next (one seek each), keeps the lists containing the code, then
reads each list's newest calls from the index in order and merges them. A code that no call has
answers after the walk, without touching a call row."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import SQL, Value

from models.calls.tables import CALL_RESULTS, CallRecord
from domain.clock import local_day, local_day_bounds, utcnow
from models.tenancy.tables import Campaign, Tenant

from . import number_search
from .form_values import optional_local_date
from .paging import Total, capped_total

PAGE_SIZE = 50
PARTIAL_NUMBER_DAYS = 7  # a prefix/suffix search without dates looks at this many local days
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
    number_search: number_search.NumberSearch = number_search.NumberSearch("")

    @classmethod
    def from_args(cls, args, tenant_id: int | None, *, pii: bool = False) -> "CallFilters":
        filters = cls(tenant_id=tenant_id, seat=args.get("seat", "").strip(),
                      campaign=args.get("campaign", "").strip(), number=args.get("number", "").strip(),
                      result=args.get("result", "").strip(), reason=args.get("reason", "").strip().upper(),
                      date_from=args.get("from", "").strip(), date_to=args.get("to", "").strip())
        if filters.result and filters.result not in CALL_RESULTS:
            filters.problems.append("result")
        if filters.reason and not _REASON.match(filters.reason):
            filters.problems.append("reason")
        filters.number_search = number_search.parse(filters.number, pii=pii)
        if filters.number_search.kind in ("prefix", "suffix") and not (filters.date_from or filters.date_to):
            # a partial number is matched by scanning calls by time: bound the scan to the last week
            filters.date_from = (local_day(utcnow()) - timedelta(days=PARTIAL_NUMBER_DAYS - 1)).isoformat()
        if filters.number and not filters.number_search.usable:
            filters.problems.append("number_too_long" if filters.number_search.kind == "too_long" else "number")
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
        if self.number:
            query = self.number_search.apply(query, CallRecord.callee_number)
        if self.result and "result" not in self.problems:
            query = query.where(CallRecord.result == self.result)
        if self.reason and "reason" in self.problems:
            query = query.where(CallRecord.id < 0)  # a malformed code matches nothing
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


#: the partial index's condition, written as it is in the index so that both databases use it
BLOCKED = SQL("decision = 'blocked'")


def reason_lists_with(code: str) -> list[str]:
    """Every distinct reasons list (stored JSON text) of blocked calls that contains ``code``.

    A walk over the partial index (reasons, created_at): one seek per distinct list."""
    found, last = [], None
    while True:
        query = CallRecord.select(CallRecord.reasons).where(BLOCKED)
        if last is not None:
            query = query.where(CallRecord.reasons > Value(last, converter=False))
        row = query.order_by(CallRecord.reasons).limit(1).tuples().first()
        if row is None:
            return found
        last = row[0] if isinstance(row[0], str) else json.dumps(row[0], ensure_ascii=False, sort_keys=True)
        if code in json.loads(last):
            found.append(last)


def _with_reason_list(query, reasons_text: str):
    return query.where(BLOCKED & (CallRecord.reasons == Value(reasons_text, converter=False)))


def newest_first(filters: CallFilters, after: tuple[datetime, int] | None = None, *, reasons_text: str | None = None):
    query = filters.apply(CallRecord.select(*LIST_COLUMNS))
    if reasons_text is not None:
        query = _with_reason_list(query, reasons_text)
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
    total: Total


def _newest(filters: CallFilters, after, limit: int) -> list[CallRecord]:
    """The ``limit`` newest matching calls after the cursor; with a reason, merged from each
    reasons list containing it (each read in index order)."""
    if not (filters.reason and "reason" not in filters.problems):
        return list(newest_first(filters, after).limit(limit))
    rows = []
    for reasons_text in reason_lists_with(filters.reason):
        rows.extend(newest_first(filters, after, reasons_text=reasons_text).limit(limit))
    rows.sort(key=lambda call: (call.created_at, call.id), reverse=True)
    return rows[:limit]


def page(filters: CallFilters, cursor: str = "", size: int = PAGE_SIZE) -> CallPage:
    rows = _newest(filters, decode_cursor(cursor), size + 1)
    more = len(rows) > size
    rows = rows[:size]
    return CallPage(rows, encode_cursor(rows[-1]) if more else None, *labels_for(rows), total=total_matching(filters))


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
        rows = _newest(filters, after, min(chunk, limit - produced))
        if not rows:
            return
        yield rows
        produced += len(rows)
        after = (rows[-1].created_at, rows[-1].id)


def total_matching(filters: CallFilters) -> Total:
    """How many calls match, counted up to paging.COUNT_CAP."""
    if not (filters.reason and "reason" not in filters.problems):
        return capped_total(filters.apply(CallRecord.select(CallRecord.id)))
    total = Total(0, False)
    for reasons_text in reason_lists_with(filters.reason):
        total += capped_total(_with_reason_list(filters.apply(CallRecord.select(CallRecord.id)), reasons_text))
    return total
