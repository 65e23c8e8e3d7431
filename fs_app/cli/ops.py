"""`fsapp retention run`: the D1/D2 retention steps by hand (the periodic jobs run them too).
`fsapp reports rebuild --from --to`: settled days' report statistics aggregated again.

Exit codes: 0 done; 1 some step could not finish (e.g. a recording could not be deleted: the
tenant's data stays and the next run retries); 2 bad input.
"""
from __future__ import annotations

from datetime import date

from fs_app.cli.arguments import iso_time
from fs_app.cli.output import write_json

EXIT_STEP_ERRORS = 1


def register(sub) -> None:
    retention = sub.add_parser("retention", help="data retention (RULEBOOK D1, D2)")
    retention_sub = retention.add_subparsers(dest="retention_command", required=True)
    run = retention_sub.add_parser(
        "run", help="mask old dialled numbers, purge old recordings and CDR files, delete terminated tenants' data")
    run.add_argument("--dry-run", action="store_true", help="report what would happen; change nothing")
    run.add_argument("--at", type=iso_time, metavar="ISO8601",
                     help="act as if it were this time (a future time only with --dry-run)")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.set_defaults(handler=retention_run)

    stats = sub.add_parser("reports", help="the stored statistics the admin's reports read (issue 17)")
    stats_sub = stats.add_subparsers(dest="reports_command", required=True)
    rebuild = stats_sub.add_parser(
        "rebuild", help="aggregate settled days again from the call records (after a late correction)")
    rebuild.add_argument("--from", dest="first", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD",
                         help="first day (Asia/Shanghai)")
    rebuild.add_argument("--to", dest="last", type=date.fromisoformat, required=True, metavar="YYYY-MM-DD",
                         help="last day (Asia/Shanghai); days not settled yet are left alone")
    rebuild.set_defaults(handler=reports_rebuild)


def reports_rebuild(args, ctx) -> int:
    from models import InvalidInput
    from models.calls.rollups import days_between, rebuild_days
    from domain.clock import utcnow

    if args.last < args.first:
        raise InvalidInput("--to %(last)s is before --from %(first)s", last=args.last, first=args.first)
    days = days_between(args.first, args.last)
    done = rebuild_days(days, utcnow())
    print(f"rebuilt the stored statistics of {done} settled day(s) of {len(days)}", file=ctx.out)
    return 0


def retention_run(args, ctx) -> int:
    from models import InvalidInput
    from domain.clock import utcnow
    from models.retention import run_retention

    settings = ctx.settings
    now = utcnow()
    at = args.at or now
    if at > now and not args.dry_run:
        raise InvalidInput("--at in the future would delete data early: only with --dry-run")
    reports = run_retention(
        at,
        number_retention_days=settings.number_retention_days,
        recording_retention_days=settings.recording_retention_days,
        terminated_delete_days=settings.terminated_delete_days,
        recording_dir=settings.recording_dir,
        cdr_dir=settings.cdr_dir,
        dry_run=args.dry_run,
        always_audit=True,
    )
    if args.json:
        write_json(ctx.out, [report.as_dict() for report in reports])
    else:
        heading = "dry run: nothing changed" if args.dry_run else "retention run"
        print(f"{heading} at {at:%Y-%m-%d %H:%M:%S} UTC", file=ctx.out)
        for report in reports:
            counts = ", ".join(f"{key}={value}" for key, value in report.counts.items())
            print(f"{report.step} (before {report.cutoff:%Y-%m-%d %H:%M:%S}): {counts}", file=ctx.out)
            for note in report.notes:
                print(f"  {note}", file=ctx.out)
        for report in reports:
            for error in report.errors:
                print(f"fsapp: {report.step}: {error}", file=ctx.err)
    return EXIT_STEP_ERRORS if any(report.errors for report in reports) else 0
