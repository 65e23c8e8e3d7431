"""Reconciliation with FreeSWITCH's own JSON CDRs (mod_json_cdr; fs-transcripts/README.md, 07).

One file per leg, written at CS_REPORTING; values under ``variables`` are URL-encoded. Which
legs are ours to bill is decided by FreeSWITCH's own facts, never guessed from the direction alone:

* a callee leg the app originated (``direction=outbound``) carries the originate variables
  ``fsapp_parent`` (the agent leg's uuid) and ``fsapp_role=callee``: billed under its own uuid;
* any other outbound leg was created by FreeSWITCH itself -- the ``bridge`` app of an inbound call
  ringing a seat, a transfer, a dialplan bridge -- and names the leg that made it in
  ``originator``. It is never billed on its own: a seat leg (its originator is an inbound call)
  is counted in ``seat_legs``, anything else is reported unmatched. The call it belongs to is
  billed once, through its own leg (issue 14: every answered inbound call was charged twice);
* an inbound leg is an agent leg when a call record names it as one, else an inbound call when it
  dialled a leased number (billed at the inbound rate under its own uuid).

For every callee leg the charge is settled through ``models.calls.billing.charge_call`` with
``source="cdr"``: a call the app never finished (it crashed) gets its record and its charge; a
call already charged is not charged again, its CDR seconds are stored in ``cdr_billsec`` and a
disagreement sets ``cdr_mismatch``. The tenant is the call record's (found by callee uuid or agent
uuid), else the tenant that leased the caller ID the leg presented. Inbound legs to a leased
number are inbound calls, charged at the inbound rate; other inbound legs are agent legs (not
billed) or unknown.

Files are parsed before any database work, so a file that is not JSON or misses keys is reported
and skipped without touching the database; legs are then applied in batches, each leg in its own
savepoint (charge_call's), so one failing leg rolls back alone. Ingesting the same files again changes nothing.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from models import sql_statements as sql
from models.calls import billing
from domain.bounds import MAX_TALK_SECONDS, TIME_RANGE_TEXT, OutOfRange, check_time, shown
from models.calls.tables import CallRecord, Hold
from models.db import is_postgres, write_transaction
from domain.errors import InvalidInput
from models.seats.tables import NumberLease
from models.tenancy.tables import Tenant
from domain.numbers import try_normalize

from fs_app.metering import event_time

log = logging.getLogger(__name__)

CDR_SUFFIX = ".cdr.json"
BATCH_SIZE = 500


class BadCdr(ValueError):
    """A file that is not a usable CDR: the message says why."""


@dataclass(frozen=True)
class CdrLeg:
    path: str
    uuid: str
    direction: str  # FreeSWITCH's view: outbound = a leg it originated (by our originate or its own bridge)
    parent_uuid: str  # the agent leg: fsapp_parent (our originate variable)
    role: str  # fsapp_role
    originator: str  # the leg whose bridge/transfer created this one (FreeSWITCH's originator)
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    billsec: int  # as models.calls.billing counts it (from billusec)
    hangup_cause: str
    caller_number: str  # E.164 when it is one, else as presented
    destination: str  # as dialled

    @property
    def is_callee_leg(self) -> bool:
        """A callee leg the app originated: only those carry our originate variables."""
        return self.direction == "outbound" and (self.role == "callee" or bool(self.parent_uuid))

    @property
    def is_bridged_leg(self) -> bool:
        """An outbound leg FreeSWITCH made for someone else's bridge (a seat, a transfer): not ours to bill."""
        return self.direction == "outbound" and not self.is_callee_leg


_WANTED = ("uuid", "direction", "fsapp_parent", "originator", "originating_leg_uuid", "fsapp_role", "hangup_cause",
           "start_uepoch", "start_epoch", "answer_uepoch", "answer_epoch", "end_uepoch", "end_epoch",
           "billusec", "billmsec", "billsec", "origination_caller_id_number", "sip_from_user",
           "destination_number", "sip_to_user")


def _int(variables: dict, key: str) -> int:
    raw = variables.get(key)
    if raw in (None, ""):
        return 0
    try:
        return int(raw)
    except ValueError:
        raise BadCdr(f"variable {key} is not a whole number: {raw!r}") from None


def _time(variables: dict, name: str) -> datetime | None:
    """``<name>_uepoch`` (or ``<name>_epoch``) as naive UTC; BadCdr outside bounds.EARLIEST/LATEST_TIME."""
    seconds = _int(variables, f"{name}_epoch")
    try:
        at = event_time(variables.get(f"{name}_uepoch")) or event_time(seconds * 1_000_000)
    except (OverflowError, OSError, ValueError):  # past the platform's or Python's dates
        raise BadCdr(f"{name} time is not {TIME_RANGE_TEXT}") from None
    try:
        return check_time(at, f"{name} time")
    except OutOfRange as exc:
        raise BadCdr(str(exc)) from None


def parse_cdr(document: dict, path: str = "", region: str = "CN") -> CdrLeg:
    """A CdrLeg from one mod_json_cdr document; BadCdr when keys we need are missing."""
    if not isinstance(document, dict):
        raise BadCdr("not a JSON object")
    raw_variables = document.get("variables")
    if not isinstance(raw_variables, dict):
        raise BadCdr("no 'variables' object")
    # only the values we read are decoded: a CDR carries a few hundred variables
    variables = {k: unquote(raw_variables[k]) if isinstance(raw_variables[k], str) else raw_variables[k]
                 for k in _WANTED if k in raw_variables}
    uuid = variables.get("uuid") or ""
    if not uuid:
        raise BadCdr("no 'uuid' variable")
    direction = variables.get("direction") or (document.get("channel_data") or {}).get("direction") or ""
    if direction not in ("inbound", "outbound"):
        raise BadCdr(f"no usable 'direction' ({direction!r})")
    if "end_uepoch" not in variables and "end_epoch" not in variables:
        raise BadCdr("no end time (end_uepoch)")
    profile = {}
    callflow = document.get("callflow")
    if isinstance(callflow, list) and callflow:
        callflow = callflow[0]
    if isinstance(callflow, dict):
        profile = callflow.get("caller_profile") or {}
    usec = _int(variables, "billusec")
    if not usec and "billmsec" in variables:
        usec = _int(variables, "billmsec") * 1000
    if not usec and "billsec" in variables:
        usec = _int(variables, "billsec") * 1_000_000
    answered_at = _time(variables, "answer")
    if answered_at is None:
        usec = 0  # never answered: free (C1), whatever else the file says
    if not 0 <= usec <= MAX_TALK_SECONDS * 1_000_000:  # billsec is a 32-bit column
        raise BadCdr(f"billed time {shown(usec)} us is not between 0 and {MAX_TALK_SECONDS} s")
    ended_at = _time(variables, "end")
    started_at = _time(variables, "start")
    raw_caller = (variables.get("origination_caller_id_number") or profile.get("ani")
                  or variables.get("sip_from_user") or profile.get("caller_id_number") or "")
    destination = profile.get("destination_number") or variables.get("destination_number") or variables.get(
        "sip_to_user") or ""
    return CdrLeg(
        path=path, uuid=uuid, direction=direction,
        parent_uuid=variables.get("fsapp_parent") or "", role=variables.get("fsapp_role") or "",
        originator=variables.get("originator") or variables.get("originating_leg_uuid") or "",
        started_at=started_at, answered_at=answered_at,
        ended_at=ended_at, billsec=billing.billsec_from_us(usec),
        hangup_cause=variables.get("hangup_cause") or "",
        caller_number=_normalize(raw_caller, region) or raw_caller, destination=destination)


def read_cdr_file(path: Path, region: str = "CN") -> CdrLeg:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadCdr(f"cannot read: {exc.strerror}") from None
    try:
        document = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadCdr(f"not JSON: {exc}") from None
    return parse_cdr(document, str(path), region)


# --- the report -----------------------------------------------------------------------------


@dataclass
class IngestReport:
    files: int = 0
    legs: int = 0
    charged: int = 0  # charges posted by this ingest (calls the app never finished)
    charged_fen: int = 0
    confirmed: int = 0  # calls already settled: CDR seconds recorded, nothing charged
    free: int = 0  # unanswered or emergency: settled at zero
    records_created: int = 0
    mismatches: int = 0  # calls flagged cdr_mismatch by this ingest
    agent_legs: int = 0  # agent legs of known calls: not billed
    seat_legs: int = 0  # legs the bridge app made to ring a seat for an inbound call: not billed
    unmatched: list[str] = field(default_factory=list)  # legs with no tenant to bill
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    done_paths: list[str] = field(default_factory=list)  # files fully handled (applied or nothing to do)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.files} file(s), {self.legs} leg(s): {self.charged} charged ({self.charged_fen} fen), "
                f"{self.confirmed} already charged, {self.free} free, {self.records_created} record(s) created, "
                f"{self.mismatches} mismatch(es), {self.agent_legs} agent leg(s), {self.seat_legs} seat leg(s), "
                f"{len(self.unmatched)} unmatched, "
                f"{len(self.bad)} bad")


# --- applying legs --------------------------------------------------------------------------


@dataclass
class _Known:
    """What the database already knows about a batch of legs, fetched in a few queries."""

    records_by_callee: dict[str, CallRecord]
    agent_uuids: set[str]  # legs that are agent legs of calls we know
    tenant_by_agent: dict[str, int]  # agent-leg uuid -> tenant (from call records and holds)
    leases: dict[str, tuple[int, datetime]]  # number -> (tenant, leased_at)
    inbound_calls: set[str] = field(default_factory=set)  # originators that are inbound calls (seat legs' A-legs)
    tenants: dict[int, Tenant] = field(default_factory=dict)

    def tenant(self, tenant_id: int) -> Tenant:
        if tenant_id not in self.tenants:
            self.tenants[tenant_id] = Tenant.get_by_id(tenant_id)
        return self.tenants[tenant_id]


def _chunks(values, size=500):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _lookup(legs: list[CdrLeg], region: str) -> _Known:
    """Everything the batch needs to know, in a few queries per 500 legs."""
    uuids = {leg.uuid for leg in legs}
    parents = {leg.parent_uuid for leg in legs if leg.parent_uuid}
    numbers = {leg.caller_number for leg in legs if leg.caller_number.startswith("+")}
    numbers |= {n for n in (_normalize(leg.destination, region) for leg in legs if leg.direction == "inbound") if n}
    originators = {leg.originator for leg in legs if leg.is_bridged_leg and leg.originator}
    records, agents, by_agent, leases, inbound = {}, set(), {}, {}, set()
    for chunk in _chunks(uuids):
        for record in (CallRecord.select(CallRecord.id, CallRecord.callee_uuid, CallRecord.tenant, CallRecord.direction,
                                         CallRecord.charged, CallRecord.charge_fen, CallRecord.billsec,
                                         CallRecord.cdr_billsec, CallRecord.cdr_mismatch)
                       .where(CallRecord.callee_uuid.in_(chunk))):
            records[record.callee_uuid] = record
    for chunk in _chunks(uuids | parents):
        for agent_uuid, tenant_id in (CallRecord.select(CallRecord.agent_uuid, CallRecord.tenant)
                                      .where(CallRecord.agent_uuid.in_(chunk)).tuples()):
            agents.add(agent_uuid)
            if tenant_id:
                by_agent[agent_uuid] = tenant_id
        for call_uuid, tenant_id, direction in (Hold.select(Hold.call_uuid, Hold.tenant, Hold.direction)
                                                .where(Hold.call_uuid.in_(chunk)).tuples()):
            if direction == "inbound":
                continue  # an inbound call's hold is on its own leg, which is billed, not an agent leg
            agents.add(call_uuid)
            by_agent.setdefault(call_uuid, tenant_id)
    for chunk in _chunks(numbers):
        for number, tenant_id, leased_at in (NumberLease.select(NumberLease.number, NumberLease.tenant,
                                                                NumberLease.leased_at)
                                             .where(NumberLease.number.in_(chunk)).tuples()):
            leases[number] = (tenant_id, leased_at)
    for chunk in _chunks(originators):
        inbound.update(uuid for (uuid,) in CallRecord.select(CallRecord.callee_uuid).where(
            CallRecord.callee_uuid.in_(chunk) & (CallRecord.direction == "inbound")).tuples())
    return _Known(records, agents, by_agent, leases, inbound)


@lru_cache(maxsize=65536)
def _normalize(raw: str, region: str) -> str | None:
    return try_normalize(raw, region)


def _confirm(record: CallRecord, leg: CdrLeg, known: _Known, report: IngestReport) -> bool:
    """Fast path for a call already charged: record the CDR's seconds and flag a disagreement.

    Returns False when the leg needs the full charge path (the call is not settled with money)."""
    if not record.charged or record.tenant_id is None:
        return False
    if record.charge_fen == 0 and leg.billsec > 0:
        return False  # settled at zero by the app, but FreeSWITCH says it was answered: charge it
    if record.cdr_billsec == leg.billsec:
        report.confirmed += 1
        return True  # this CDR was seen before
    tariff = billing.tariff_of(known.tenant(record.tenant_id), record.direction)
    mismatch = record.cdr_mismatch
    if record.cdr_billsec is None:
        mismatch = billing.charges_differ(record.billsec, leg.billsec, tariff)
    sql.run("record_cdr_confirm", (leg.billsec, mismatch, record.id))
    if mismatch and not record.cdr_mismatch:
        report.mismatches += 1
    report.confirmed += 1
    return True


def _resolve_tenant(leg: CdrLeg, known: _Known, region: str) -> int | None:
    """The tenant to bill a leg to: its call record's, its agent leg's, or the leased number's
    (the caller ID a callee leg presented, the number an inbound leg dialled) if the number was
    leased when the call started."""
    record = known.records_by_callee.get(leg.uuid)
    if record is not None and record.tenant_id:
        return record.tenant_id
    if leg.is_bridged_leg:
        return None  # never billed on its own
    at = leg.started_at or leg.ended_at
    if leg.is_callee_leg:
        if leg.parent_uuid in known.tenant_by_agent:
            return known.tenant_by_agent[leg.parent_uuid]
        number = leg.caller_number
    elif leg.uuid in known.agent_uuids:
        return None  # an agent leg: not billed
    else:
        number = _normalize(leg.destination, region)
    lease = known.leases.get(number or "")
    if lease is None or at is None or lease[1] > at:
        return None
    return lease[0]


def _apply(leg: CdrLeg, tenant_id: int | None, known: _Known, report: IngestReport, emergency_numbers,
           region: str) -> None:
    record = known.records_by_callee.get(leg.uuid)
    if leg.is_bridged_leg:
        if leg.originator in known.inbound_calls:
            report.seat_legs += 1
        else:
            report.unmatched.append(f"{leg.uuid} ({Path(leg.path).name or 'leg'}): made by FreeSWITCH for "
                                    f"{leg.originator or 'an unknown leg'}, not by the app: not billed on its own")
        return
    if record is not None and _confirm(record, leg, known, report):
        return
    if leg.direction == "inbound" and record is None and leg.uuid in known.agent_uuids:
        report.agent_legs += 1
        return
    if tenant_id is None:
        report.unmatched.append(f"{leg.uuid} ({Path(leg.path).name or 'leg'}): no call record and no leased number")
        return
    direction = record.direction if record is not None else ("outbound" if leg.is_callee_leg else "inbound")
    result = billing.charge_call(
        leg.uuid, source="cdr", answered_at=leg.answered_at, ended_at=leg.ended_at, billsec=leg.billsec,
        agent_uuid=(leg.parent_uuid or None) if leg.is_callee_leg else leg.uuid, tenant_id=tenant_id,
        direction=direction, hangup_cause=leg.hangup_cause, caller_number=leg.caller_number,
        callee_number=_normalize(leg.destination, region) or "", dialled=leg.destination,
        emergency_numbers=emergency_numbers, started_at=leg.started_at)
    report.records_created += int(result.record_created)
    if result.charged_now:
        report.charged += 1
        report.charged_fen += result.charge_fen
    elif result.duplicate:
        report.confirmed += 1
    else:
        report.free += 1
    if result.mismatch and not (record is not None and record.cdr_mismatch):
        report.mismatches += 1


def apply_legs(legs: list[CdrLeg], report: IngestReport, *, emergency_numbers=None, region: str = "CN",
               batch_size: int = BATCH_SIZE) -> None:
    """Apply parsed legs in batches: one transaction per batch, one savepoint per leg."""
    if is_postgres():
        batch_size = min(batch_size, 50)  # shorter row-lock holds next to live calls
    for start in range(0, len(legs), batch_size):
        batch = legs[start:start + batch_size]
        known = _lookup(batch, region)
        tenants = {id(leg): _resolve_tenant(leg, known, region) for leg in batch}
        # an inbound call whose record this batch creates still makes its seat legs seat legs
        known.inbound_calls.update(leg.uuid for leg in batch if leg.direction == "inbound" and tenants[id(leg)])
        # legs of one agent leg belong to one tenant, whichever of them named it (order-independent)
        by_parent = {leg.parent_uuid: tenants[id(leg)] for leg in batch if leg.parent_uuid and tenants[id(leg)]}
        for leg in batch:
            if tenants[id(leg)] is None and leg.is_callee_leg and leg.parent_uuid in by_parent:
                tenants[id(leg)] = by_parent[leg.parent_uuid]
        # one lock order for every process: tenant rows are locked in ascending tenant id
        batch.sort(key=lambda leg: (tenants[id(leg)] or 0, leg.uuid))
        with write_transaction():
            for leg in batch:
                try:
                    # no savepoint of its own: a leg writes either one UPDATE (confirm) or goes
                    # through charge_call, whose savepoint rolls the whole leg back on failure
                    _apply(leg, tenants[id(leg)], known, report, emergency_numbers, region)
                except (InvalidInput, ValueError) as exc:
                    report.bad.append((leg.path, f"{type(exc).__name__}: {exc}"))
                    continue
                report.done_paths.append(leg.path)


def phantom_charges(limit: int = 20) -> list[str]:
    """Charged calls billed on a leg that belongs to another billed call (the seat leg of an
    inbound call, a transferred leg): each is money taken twice for one call. Empty when sound."""
    query = (CallRecord.select(CallRecord.callee_uuid, CallRecord.agent_uuid, CallRecord.charge_fen)
             .join(_Owner, on=(_Owner.callee_uuid == CallRecord.agent_uuid) & (_Owner.id != CallRecord.id))
             .where(CallRecord.charged & (CallRecord.charge_fen > 0) & _Owner.charged)
             .limit(limit).tuples())
    return [f"call {callee} ({fen} fen) is a leg of call {owner}, which is billed itself"
            for callee, owner, fen in query]


_Owner = CallRecord.alias("owner")


def collect_paths(paths: list[str | Path]) -> list[Path]:
    """Files named, and ``*.cdr.json`` / ``*.json`` files directly inside directories named."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(".json")))
        elif path.exists():
            found.append(path)
        else:
            raise InvalidInput(f"no such file or directory: {path}")
    return found


def ingest(paths: list[str | Path], *, emergency_numbers=None, region: str = "CN",
           batch_size: int = BATCH_SIZE) -> IngestReport:
    """Read and apply CDR files; see the module docstring. Never raises for a bad file."""
    began = time.perf_counter()
    report = IngestReport()
    files = collect_paths(paths)
    report.files = len(files)
    legs: list[CdrLeg] = []
    for path in files:
        try:
            legs.append(read_cdr_file(path, region))
        except BadCdr as exc:
            report.bad.append((str(path), str(exc)))
    report.legs = len(legs)
    apply_legs(legs, report, emergency_numbers=emergency_numbers, region=region, batch_size=batch_size)
    report.seconds = time.perf_counter() - began
    return report


def ingest_directory(directory: Path, *, emergency_numbers=None, region: str = "CN",
                     settle_age_s: float = 5.0, now: float | None = None) -> IngestReport:
    """The periodic job: ingest ``directory``'s CDR files, then move each handled file to
    ``processed/`` and each bad one to ``bad/`` so the next run does not read them again. Files
    younger than ``settle_age_s`` may still be being written and wait for the next run. Several
    processes may run this on one directory at once: ingest is idempotent and a file another
    process moved first is simply gone."""
    directory = Path(directory)
    if not directory.is_dir():
        return IngestReport()
    # file ages compare mtimes, which the file system stamps with the wall clock: so does this
    now = time.time() if now is None else now
    ready = []
    for path in sorted(directory.iterdir()):
        try:
            if path.is_file() and path.name.endswith(".json") and now - path.stat().st_mtime >= settle_age_s:
                ready.append(path)
        except FileNotFoundError:
            continue
    if not ready:
        return IngestReport()
    report = ingest(ready, emergency_numbers=emergency_numbers, region=region)
    for target, names in (("processed", report.done_paths), ("bad", [p for p, _ in report.bad])):
        if not names:
            continue
        (directory / target).mkdir(exist_ok=True)
        for name in names:
            source = Path(name)
            try:
                os.replace(source, directory / target / source.name)
            except FileNotFoundError:
                pass  # another process moved it
    return report
