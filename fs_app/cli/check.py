"""`fsapp check`: would this call be admitted now (or at --at), and if not, why?

A dry run through the code a live call uses (facts + decide), with nothing locked or written.
Exit codes: 0 allowed, 3 blocked (an unknown seat is a blocked decision, SEAT_UNKNOWN), 2 bad
input (a malformed seat address, an unparseable --at).
"""
from __future__ import annotations

import uuid

from domain.clock import utcnow
from models.seats.seats import split_sip_address

from fs_app.admission import evaluate
from fs_app.cli.arguments import iso_time
from fs_app.cli.output import write_json
from fs_app.policy import CallRequest

EXIT_ALLOWED = 0
EXIT_BLOCKED = 3


def register(sub) -> None:
    p = sub.add_parser("check", help="dry-run admission of a call: decision, reasons, caller ID, maximum duration")
    p.add_argument("--seat", required=True, metavar="USER@DOMAIN", help="the calling seat (as SIP authenticates it)")
    p.add_argument("--to", required=True, metavar="NUMBER", help="the dialled number")
    p.add_argument("--campaign", default="", metavar="CODE", help="campaign (default: the seat's default campaign)")
    p.add_argument("--at", type=iso_time, metavar="ISO8601", help="evaluate at this time (default: now)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=check)


def check(args, ctx) -> int:
    user, domain = split_sip_address(args.seat)  # malformed: InvalidInput, exit 2
    now = args.at or utcnow()
    request = CallRequest(call_uuid=f"check-{uuid.uuid4()}", dialled=args.to, seat_address=f"{user}@{domain}",
                          authenticated=True, campaign_code=args.campaign or "")
    decision = evaluate(request, now, ctx.settings)
    if args.json:
        write_json(ctx.out, {"seat": request.seat_address, "to": args.to, "at": now, **decision.as_dict()})
    else:
        _print(ctx.out, request, now, decision)
    return EXIT_ALLOWED if decision.allowed else EXIT_BLOCKED


def _print(out, request, now, decision) -> None:
    verdict = "ALLOWED" if decision.allowed else "BLOCKED"
    local = ", ".join(t[11:19] + " " + z for t, z in zip(decision.facts.get("callee", {}).get("local_times", []),
                                                       decision.facts.get("callee", {}).get("zones", [])))
    print(f"{verdict}: {request.seat_address} -> {decision.callee or request.dialled} at {now:%Y-%m-%d %H:%M:%S} UTC"
          + (f" (callee local {local})" if local else ""), file=out)
    if decision.emergency:
        print("emergency number: never blocked by commercial policy, never billed", file=out)
    for reason in decision.reasons:
        print(f"  {reason.code} [{reason.rule}] {reason.detail}", file=out)
        print(f"      {reason.explanation_en}", file=out)
        print(f"      {reason.explanation_zh}", file=out)
    print(f"caller ID: {decision.caller_id or '(none)'}", file=out)
    if decision.allowed:
        duration = "not limited by balance" if decision.max_duration_s is None else f"{decision.max_duration_s} s"
        print(f"max duration: {duration}", file=out)
        print(f"hold at admission: {decision.hold_fen} fen", file=out)
        print(f"recording: {'allowed' if decision.record_allowed else 'off'}", file=out)
    else:
        print("max duration: (blocked)", file=out)
