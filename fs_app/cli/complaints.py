"""`fsapp complaint add|list|answer`: complaints (D5) and the complaint-ratio guard (A15)."""
from __future__ import annotations

from models.complaints import complaints
from models.complaints.tables import COMPLAINT_CHANNELS

from fs_app.cli.arguments import row_id
from fs_app.cli.output import write_rows

COLUMNS = ["id", "tenant", "number", "channel", "received_at", "due_at", "answered_at", "overdue", "text", "answer",
           "call_uuid"]


def register(sub) -> None:
    complaint = sub.add_parser("complaint", help="complaints and the complaint-ratio guard").add_subparsers(
        dest="complaint_command", required=True)
    p = complaint.add_parser("add", help="log a complaint: the number goes on the tenant's do-not-call list")
    p.add_argument("tenant")
    p.add_argument("number")
    p.add_argument("--channel", required=True, choices=COMPLAINT_CHANNELS)
    p.add_argument("--text", default="")
    p.add_argument("--call", default="", metavar="UUID", help="the call complained about")
    p.set_defaults(handler=complaint_add)

    p = complaint.add_parser("list", help="list complaints, newest first")
    p.add_argument("--tenant")
    p.add_argument("--overdue", action="store_true", help="only complaints not answered in time")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=complaint_list)

    p = complaint.add_parser("answer", help="record the tenant's answer to a complaint")
    p.add_argument("id", type=row_id)
    p.add_argument("--text", required=True)
    p.set_defaults(handler=complaint_answer)


def complaint_add(args, ctx) -> int:
    settings = ctx.settings
    filed = complaints.file_complaint(
        args.tenant, args.number, channel=args.channel, text=args.text, call_uuid=args.call,
        answer_hours=settings.complaint_answer_hours, limits=settings.complaint_guard_limits(),
        region=settings.default_region, actor=ctx.actor)
    c = filed.complaint
    print(f"complaint {c.id} logged for {args.tenant}: {c.number} is on the tenant's do-not-call list; "
          f"answer due {c.due_at:%Y-%m-%d %H:%M} UTC", file=ctx.out)
    if filed.guard.ban is not None:
        print(f"complaint-ratio guard: {filed.guard.summary()}; outbound calling banned until an operator reviews it",
              file=ctx.out)
    return 0


def complaint_list(args, ctx) -> int:
    rows = [{"id": c.id, "tenant": c.tenant.code, "number": c.number, "channel": c.channel,
             "received_at": c.received_at, "due_at": c.due_at, "answered_at": c.answered_at,
             "overdue": "OVERDUE" if overdue else "", "text": c.text, "answer": c.answer, "call_uuid": c.call_uuid}
            for c, overdue in complaints.list_complaints(tenant_code=args.tenant, overdue_only=args.overdue)]
    write_rows(ctx.out, COLUMNS, rows, args.format, phone_columns=("number",))
    return 0


def complaint_answer(args, ctx) -> int:
    c = complaints.answer_complaint(args.id, args.text, actor=ctx.actor)
    late = " (late)" if complaints.is_overdue(c, c.answered_at) else ""
    print(f"complaint {c.id} answered{late}", file=ctx.out)
    return 0
