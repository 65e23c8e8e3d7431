"""Call records: filtered list with keyset paging, CSV export, a call's detail and its recording.

Numbers are masked unless a PII user reveals them; reveals, exports and playback are audited (D3).
"""
from __future__ import annotations

import io
import mimetypes
from pathlib import Path

from flask import (Blueprint, Response, abort, current_app, g, render_template, request, send_file,
                   stream_with_context)

from models.complaints.audit import audit
from models.calls.tables import CALL_RESULTS, CallRecord
from models.csv_export import CsvWriter
from domain.numbers import mask
from models.tenancy.tables import Campaign
from models.seats.tables import Seat

from .. import call_list
from ..formatting import local_time
from ..reasons import REASONS, reason_explanation, reason_label, reason_rule
from ..recording_state import recording_state
from ..scope import chosen_tenant, visible_tenants, visible_row

blueprint = Blueprint("calls", __name__, url_prefix="/calls")

EXPORT_MAX_ROWS = 200_000
EXPORT_COLUMNS = ["created_at_local", "tenant", "seat", "direction", "caller", "callee", "campaign", "decision",
                  "reasons", "result", "answered_at_local", "ended_at_local", "billsec", "billed_minutes",
                  "charge_fen", "recording_digit", "agent_uuid", "callee_uuid"]


def _reveal_requested() -> bool:
    return request.args.get("reveal") == "1" and g.user.pii


def _filters() -> call_list.CallFilters:
    tenant = chosen_tenant()
    return call_list.CallFilters.from_args(request.args, tenant.id if tenant else None, pii=g.user.pii)


@blueprint.route("")
def index():
    filters = _filters()
    result = call_list.page(filters, request.args.get("after", ""))
    reveal = _reveal_requested()
    if reveal:
        audit(g.user.username, "pii.view", tenant=filters.tenant_id, target="calls",
              filters=filters.query_args(), rows=len(result.calls))
    return render_template("calls.html", page=result, filters=filters, reveal=reveal,
                           tenant=chosen_tenant(), tenants=visible_tenants(), results=CALL_RESULTS,
                           reasons=sorted(REASONS), reason_label=reason_label)


@blueprint.route("/export.csv")
def export():
    filters = _filters()
    full_numbers = g.user.pii
    audit(g.user.username, "calls.export", tenant=filters.tenant_id, target="calls",
          filters=filters.query_args(), full_numbers=full_numbers, max_rows=EXPORT_MAX_ROWS)

    def show(number: str) -> str:
        return number if full_numbers else mask(number)

    def generate():
        buffer = io.StringIO()
        buffer.write("\ufeff")  # Excel opens UTF-8 with a BOM correctly
        writer = CsvWriter(buffer, EXPORT_COLUMNS, phone_columns=("caller", "callee"))
        for rows in call_list.iterate_all(filters, EXPORT_MAX_ROWS):
            tenants, campaigns = call_list.labels_for(rows)
            for call in rows:
                writer.writerow([
                    local_time(call.created_at), tenants.get(call.tenant_id, ""), call.seat_address, call.direction,
                    show(call.caller_number), show(call.callee_number), campaigns.get(call.campaign_id, ""),
                    call.decision, ",".join(call.reasons or []), call.result, local_time(call.answered_at),
                    local_time(call.ended_at), call.billsec, call.billed_minutes, call.charge_fen,
                    call.recording_digit, call.agent_uuid, call.callee_uuid or "",
                ])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    # mimetype: Flask adds "; charset=utf-8" itself (given here too, the parameter went out twice)
    response = Response(stream_with_context(generate()), mimetype="text/csv")
    response.headers["Content-Disposition"] = "attachment; filename=calls.csv"
    return response


def visible_call(call_id: int) -> CallRecord:
    return visible_row(CallRecord, call_id)


@blueprint.route("/<int:call_id>")
def detail(call_id: int):
    call = visible_call(call_id)
    reveal = _reveal_requested()
    if reveal:
        audit(g.user.username, "pii.view", tenant=call.tenant_id, target=f"call:{call.id}")
    reasons = [(code, reason_label(code), reason_explanation(code), reason_rule(code)) for code in call.reasons or []]
    campaign = Campaign.get_or_none(Campaign.id == call.campaign_id) if call.campaign_id else None
    seat = Seat.get_or_none(Seat.id == call.seat_id) if call.seat_id else None
    available = recording_file(call) is not None
    return render_template("call_detail.html", call=call, reasons=reasons, reveal=reveal, campaign=campaign,
                           seat=seat, recording_available=available, recording=recording_state(call, available))


def recording_file(call: CallRecord) -> Path | None:
    """The recording only if it is a file under recording_dir (a stored path never escapes it)."""
    if not call.recording_path:
        return None
    root = Path(current_app.extensions["fsapp_settings"].recording_dir).resolve()
    path = Path(call.recording_path)
    path = (path if path.is_absolute() else root / path).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@blueprint.route("/<int:call_id>/recording")
def recording(call_id: int):
    call = visible_call(call_id)
    path = recording_file(call)
    if path is None:
        abort(404)
    # the player fetches in ranges: one audit entry per playback, not per range
    if request.headers.get("Range", "bytes=0-").startswith("bytes=0-"):
        audit(g.user.username, "recording.play", tenant=call.tenant_id, target=f"call:{call.id}",
              agent_uuid=call.agent_uuid)
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    response = send_file(path, mimetype=mimetype, conditional=True, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response
