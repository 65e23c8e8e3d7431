"""Reconciliation with FreeSWITCH's own JSON CDRs (mod_json_cdr; fs-transcripts/README.md, 07).

One file per leg, written at CS_REPORTING; values under ``variables`` are URL-encoded. Our
outbound callee legs (B-legs, ``direction=outbound`` in FreeSWITCH's view) carry ``fsapp_parent``
(the agent leg's uuid), ``fsapp_role=callee`` and ``origination_uuid``; a leg bridged by the
``bridge`` app names its agent leg in ``originator`` instead.

For every callee leg the charge is settled through ``models.billing.charge_call`` with
``source="cdr"``: a call the app never finished (it crashed) gets its record and its charge; a
call already charged is not charged again, its CDR seconds are stored in ``cdr_billsec`` and a
disagreement sets ``cdr_mismatch``. The tenant is the call record's (found by callee uuid or agent
uuid), else the tenant that leased the caller ID the leg presented. Inbound legs to a leased
number are inbound calls, charged at the inbound rate; other inbound legs are agent legs (not
billed) or unknown.

Files are parsed before any database work, so a file that is not JSON or misses keys is reported
and skipped without touching the database; legs are then applied in batches, each leg in its own
savepoint, so one failing leg rolls back alone. Ingesting the same files again changes nothing.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

from models import billing, database
from models.calls import CallRecord, Hold
from models.db import is_postgres, write_transaction
from models.errors import InvalidInput
from models.tenancy import Tenant
from models.numbers import try_normalize

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
    direction: str  # FreeSWITCH's view: outbound = a leg it originated (our callee leg)
    parent_uuid: str  # the agent leg: fsapp_parent, or originator for the bridge app
    role: str  # fsapp_role
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    billsec: int  # as models.billing counts it (from billusec)
    hangup_cause: str
    caller_number: str  # E.164 when it is one, else as presented
    destination: str  # as dialled

    @property
    def is_callee_leg(self) -> bool:
        return self.direction == "outbound"


def _int(variables: dict, key: str) -> int:
    raw = variables.get(key)
    if raw in (None, ""):
        return 0
    try:
        return int(raw)
    except ValueError:
        raise BadCdr(f"variable {key} is not a whole number: {raw!r}") from None


def parse_cdr(document: dict, path: str = "", region: str = "CN") -> CdrLeg:
    """A CdrLeg from one mod_json_cdr document; BadCdr when keys we need are missing."""
    if not isinstance(document, dict):
        raise BadCdr("not a JSON object")
    raw_variables = document.get("variables")
    if not isinstance(raw_variables, dict):
        raise BadCdr("no 'variables' object")
    variables = {k: unquote(v) if isinstance(v, str) else v for k, v in raw_variables.items()}
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
    answered_at = event_time(variables.get("answer_uepoch")) or event_time(_int(variables, "answer_epoch") * 1_000_000)
    if answered_at is None:
        usec = 0  # never answered: free (C1), whatever else the file says
    ended_at = event_time(variables.get("end_uepoch")) or event_time(_int(variables, "end_epoch") * 1_000_000)
    started_at = event_time(variables.get("start_uepoch")) or event_time(_int(variables, "start_epoch") * 1_000_000)
    raw_caller = (variables.get("origination_caller_id_number") or profile.get("ani")
                  or variables.get("sip_from_user") or profile.get("caller_id_number") or "")
    destination = profile.get("destination_number") or variables.get("destination_number") or variables.get(
        "sip_to_user") or ""
    return CdrLeg(
        path=path, uuid=uuid, direction=direction,
        parent_uuid=variables.get("fsapp_parent") or variables.get("originator") or "",
        role=variables.get("fsapp_role") or "", started_at=started_at, answered_at=answered_at,
        ended_at=ended_at, billsec=billing.billsec_from_us(usec),
        hangup_cause=variables.get("hangup_cause") or "",
        caller_number=try_normalize(raw_caller, region) or raw_caller, destination=destination)


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
    unmatched: list[str] = field(default_factory=list)  # legs with no tenant to bill
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    done_paths: list[str] = field(default_factory=list)  # files fully handled (applied or nothing to do)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.files} file(s), {self.legs} leg(s): {self.charged} charged ({self.charged_fen} fen), "
                f"{self.confirmed} already charged, {self.free} free, {self.records_created} record(s) created, "
                f"{self.mismatches} mismatch(es), {self.agent_legs} agent leg(s), {len(self.unmatched)} unmatched, "
                f"{len(self.bad)} bad")


# --- applying legs --------------------------------------------------------------------------


@dataclass
class _Known:
    """What the database already knows about a batch of legs, fetched in a few queries."""

    records_by_callee: dict[str, CallRecord]
    agent_uuids: set[str]
    tenants: dict[int, Tenant] = field(default_factory=dict)

    def tenant(self, tenant_id: int) -> Tenant:
        if tenant_id not in self.tenants:
            self.tenants[tenant_id] = Tenant.get_by_id(tenant_id)
        return self.tenants[tenant_id]


def _lookup(legs: list[CdrLeg]) -> _Known:
    uuids = list({leg.uuid for leg in legs})
    records, agents = {}, set()
    for chunk_start in range(0, len(uuids), 500):
        chunk = uuids[chunk_start:chunk_start + 500]
        for record in CallRecord.select().where(CallRecord.callee_uuid.in_(chunk)):
            records[record.callee_uuid] = record
        agents.update(r.agent_uuid for r in CallRecord.select(CallRecord.agent_uuid).where(
            CallRecord.agent_uuid.in_(chunk)))
        agents.update(h.call_uuid for h in Hold.select(Hold.call_uuid).where(Hold.call_uuid.in_(chunk)))
    return _Known(records, agents)


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
    CallRecord.update(cdr_billsec=leg.billsec, cdr_mismatch=mismatch).where(CallRecord.id == record.id).execute()
    if mismatch and not record.cdr_mismatch:
        report.mismatches += 1
    report.confirmed += 1
    return True


def _resolve_tenant(leg: CdrLeg, known: _Known, region: str) -> int | None:
    """The tenant to bill a leg to: its call record's, its agent leg's, or the leased number's
    (the caller ID a callee leg presented, the number an inbound leg dialled)."""
    record = known.records_by_callee.get(leg.uuid)
    if record is not None and record.tenant_id:
        return record.tenant_id
    at = leg.started_at or leg.ended_at
    if leg.is_callee_leg:
        found = billing.tenant_of_call(leg.uuid, leg.parent_uuid or None)
        if found is None and leg.caller_number.startswith("+"):
            found = billing.tenant_of_number(leg.caller_number, at)
        return found
    if leg.uuid in known.agent_uuids:
        return None  # an agent leg: not billed
    number = try_normalize(leg.destination, region)
    return billing.tenant_of_number(number, at) if number else None


def _apply(leg: CdrLeg, tenant_id: int | None, known: _Known, report: IngestReport, emergency_numbers,
           region: str) -> None:
    record = known.records_by_callee.get(leg.uuid)
    if record is not None and _confirm(record, leg, known, report):
        return
    if not leg.is_callee_leg and record is None and leg.uuid in known.agent_uuids:
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
        callee_number=try_normalize(leg.destination, region) or "", dialled=leg.destination,
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
        known = _lookup(batch)
        tenants = {id(leg): _resolve_tenant(leg, known, region) for leg in batch}
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
                    with database.atomic():
                        _apply(leg, tenants[id(leg)], known, report, emergency_numbers, region)
                except (InvalidInput, ValueError) as exc:
                    report.bad.append((leg.path, f"{type(exc).__name__}: {exc}"))
                    continue
                report.done_paths.append(leg.path)


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
