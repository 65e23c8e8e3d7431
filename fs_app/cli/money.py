"""`fsapp ledger|cdr|jobs|statement` and `fsapp tenant terminate`: the money commands.

Exit codes: 0 success; 2 bad input; `ledger verify` 1 when a tenant's ledger is inconsistent
(one line per bad tenant) or a leg of a call was charged on its own (a phantom charge); `cdr ingest` 1 when some file was bad (the others are applied);
`jobs run` 1 when a job failed (the others still ran).
"""
from __future__ import annotations

import argparse
import logging

from models import Tenant
from models.tenancy import tenants
from models.ledger.posting import verify_tenant_ledger
from domain.clock import utcnow
from domain.errors import InvalidInput
from models.ledger.payouts import pay_out
from models.ledger.statements import statement
from models.ledger.termination import TERMINATION_KINDS, terminate

from fs_app import cdr, jobs
from fs_app.cli.arguments import amount_fen, iso_time
from fs_app.cli.output import write_json, write_rows

log = logging.getLogger(__name__)


def register(sub) -> None:
    ledger = sub.add_parser("ledger", help="the prepaid ledger").add_subparsers(dest="ledger_command", required=True)
    p = ledger.add_parser("verify", help="prove every tenant's balance equals the sum of its ledger")
    p.set_defaults(handler=ledger_verify)
    for kind, text in (("refund", "refund paid money to a tenant (never below live holds)"),
                       ("adjust", "take money out of a tenant's account as an adjustment (never below live holds)")):
        p = ledger.add_parser(kind, help=text)
        p.add_argument("tenant")
        p.add_argument("amount", type=amount_fen, metavar="FEN")
        p.add_argument("--note", required=True)
        p.set_defaults(handler=ledger_payout, kind=kind)

    p = sub.add_parser("cdr", help="FreeSWITCH JSON CDRs").add_subparsers(dest="cdr_command", required=True)
    ingest = p.add_parser("ingest", help="reconcile CDR files (files or directories) with the call records")
    ingest.add_argument("paths", nargs="+", metavar="PATH")
    ingest.add_argument("--json", action="store_true")
    ingest.set_defaults(handler=cdr_ingest)

    p = sub.add_parser("jobs", help="periodic work").add_subparsers(dest="jobs_command", required=True)
    run = p.add_parser("run", help="run the periodic jobs once (idempotent; safe on every node every minute)")
    run.add_argument("--only", choices=jobs.job_names())
    run.add_argument("--at", type=iso_time, help="act as if it were this time (ISO 8601)")
    run.set_defaults(handler=jobs_run)
    listing = p.add_parser("list", help="list the periodic jobs")
    listing.set_defaults(handler=jobs_list, needs_db=False)

    p = sub.add_parser("statement", help="a tenant's monthly statement (months in Asia/Shanghai)")
    p.add_argument("tenant")
    p.add_argument("--month", required=True, metavar="YYYY-MM")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.set_defaults(handler=statement_show)

    tenant_sub = _subcommands(sub.choices.get("tenant"))
    p = tenant_sub.add_parser("terminate", help="terminate a tenant and settle its balance (C4)")
    p.add_argument("code")
    p.add_argument("--kind", required=True, choices=TERMINATION_KINDS)
    p.add_argument("--reason", default="")
    p.set_defaults(handler=tenant_terminate)


def _subcommands(parser):
    """`tenant` belongs to the provisioning module; `terminate` joins its subcommands."""
    if parser is not None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return action
    raise RuntimeError("the `tenant` command must be registered before the money commands")


def ledger_verify(args, ctx) -> int:
    bad = 0
    count = 0
    for tenant in Tenant.select().order_by(Tenant.code):
        count += 1
        problems = verify_tenant_ledger(tenant)
        if problems:
            bad += 1
            print(f"{tenant.code}: " + "; ".join(problems), file=ctx.out)
    phantoms = cdr.phantom_charges()
    for problem in phantoms:
        print(f"phantom charge: {problem}", file=ctx.out)
    if phantoms:
        print(f"ledger verify: {len(phantoms)} phantom charge(s) (a leg of a call billed on its own)", file=ctx.err)
    if bad or phantoms:
        print(f"ledger verify: {bad} of {count} tenant(s) inconsistent", file=ctx.err)
        return 1
    print(f"ledger verify: {count} tenant(s) consistent", file=ctx.out)
    return 0


def ledger_payout(args, ctx) -> int:
    tenant = tenants.get_tenant(args.tenant)
    payout = pay_out(tenant.id, args.kind, args.amount, note=args.note, actor=ctx.actor)
    balance = Tenant.get_by_id(tenant.id).balance_fen
    print(f"{tenant.code}: {args.kind} of {payout.amount_fen} fen; balance {balance} fen", file=ctx.out)
    return 0


def cdr_ingest(args, ctx) -> int:
    report = cdr.ingest(args.paths, emergency_numbers=ctx.settings.emergency_numbers,
                        region=ctx.settings.default_region)
    if args.json:
        write_json(ctx.out, {
            "files": report.files, "legs": report.legs, "charged": report.charged,
            "charged_fen": report.charged_fen, "confirmed": report.confirmed, "free": report.free,
            "records_created": report.records_created, "mismatches": report.mismatches,
            "agent_legs": report.agent_legs, "unmatched": report.unmatched,
            "bad": [{"path": p, "reason": r} for p, r in report.bad]})
    else:
        print(report.summary(), file=ctx.out)
        for line in report.unmatched:
            print(f"unmatched: {line}", file=ctx.out)
    for path, reason in report.bad:
        print(f"fsapp: bad CDR {path}: {reason}", file=ctx.err)
    return 1 if report.bad else 0


def jobs_list(args, ctx) -> int:
    for name, function in jobs.JOBS:
        doc = (function.__doc__ or "").strip()
        print(f"{name}: {doc.splitlines()[0] if doc else ''}", file=ctx.out)
    return 0


def jobs_run(args, ctx) -> int:
    at = args.at or utcnow()
    failed = 0
    for name, function in jobs.JOBS:
        if args.only and name != args.only:
            continue
        try:
            summary = function(ctx.settings, at)
        except InvalidInput:
            raise
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("job %s failed", name)
            print(f"{name}: FAILED: {type(exc).__name__}: {exc}", file=ctx.err)
            failed += 1
            continue
        print(f"{name}: {summary}", file=ctx.out)
    return 1 if failed else 0


def statement_show(args, ctx) -> int:
    tenant = tenants.get_tenant(args.tenant)
    result = statement(tenant, args.month)
    document = result.document()
    if args.format == "json":
        write_json(ctx.out, document)
        return 0
    if args.format == "csv":
        rows = [{"item": key, "day": "", "count": "", "minutes": "", "fen": value}
                for key, value in document.items() if key.endswith("_fen")]
        rows += [{"item": "calls", "day": d["day"], "count": d["count"], "minutes": d["minutes"], "fen": d["fen"]}
                 for d in document["calls"]]
        write_rows(ctx.out, ["item", "day", "count", "minutes", "fen"], rows, "csv")
        return 0
    print(f"statement of {tenant.code} for {args.month} (Asia/Shanghai; UTC "
          f"{result.start_utc:%Y-%m-%d %H:%M} to {result.end_utc:%Y-%m-%d %H:%M}), amounts in fen", file=ctx.out)
    lines = [("opening balance", result.opening_balance_fen), ("top-ups", result.topups_fen),
             ("promotional credit", result.promo_credit_fen), ("calls", -result.calls_fen),
             ("seat rent", -result.seat_rent_fen), ("number rent", -result.number_rent_fen),
             ("refunds", -result.refunds_fen), ("forfeits", -result.forfeits_fen),
             ("adjustments", result.adjustments_fen), ("closing balance", result.closing_balance_fen),
             ("  of which promotional", result.closing_promo_fen),
             ("promotional credit spent", result.promo_spent_fen), ("invoiceable", result.invoiceable_fen)]
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label.ljust(width)}  {value:>12}", file=ctx.out)
    print("calls per day:", file=ctx.out)
    if document["calls"]:
        write_rows(ctx.out, ["day", "count", "minutes", "fen"], document["calls"])
    else:
        print("  (none)", file=ctx.out)
    return 0


def tenant_terminate(args, ctx) -> int:
    settlement = terminate(args.code, kind=args.kind, reason=args.reason, actor=ctx.actor)
    print(f"tenant {args.code} terminated ({args.kind}): {settlement.summary()}", file=ctx.out)
    return 0
