"""`fsapp consent|dnc`: consent records and do-not-call lists, single and CSV import."""
from __future__ import annotations

from models.lists import list_entries

from fs_app.cli import EXIT_BAD_INPUT, EXIT_PARTIAL
from fs_app.cli.arguments import iso_time, open_text_file


def register(sub) -> None:
    consent = sub.add_parser("consent", help="consent records").add_subparsers(dest="consent_command", required=True)
    p = consent.add_parser("add", help="record a callee's prior consent")
    p.add_argument("tenant")
    p.add_argument("number")
    p.add_argument("--source", required=True, help="where the consent came from (web form, contract, ...)")
    p.add_argument("--evidence", default="", help="reference to the evidence (document id, URL, recording)")
    p.add_argument("--expires", type=iso_time)
    p.set_defaults(handler=consent_add)

    p = consent.add_parser("import", help="import consent records from CSV (number,source[,evidence,obtained_at,expires_at])")
    p.add_argument("tenant")
    p.add_argument("csv")
    p.add_argument("--strict", action="store_true", help="write nothing if any row is bad")
    p.set_defaults(handler=consent_import)

    p = consent.add_parser("revoke", help="revoke a number's consent")
    p.add_argument("tenant")
    p.add_argument("number")
    p.set_defaults(handler=consent_revoke)

    dnc = sub.add_parser("dnc", help="do-not-call lists").add_subparsers(dest="dnc_command", required=True)
    p = dnc.add_parser("add", help="put a number on the platform list, or a tenant's with --tenant")
    p.add_argument("number")
    p.add_argument("--tenant")
    p.add_argument("--reason", default="")
    p.set_defaults(handler=dnc_add)

    p = dnc.add_parser("import", help="import do-not-call numbers from CSV (number[,reason])")
    p.add_argument("csv")
    p.add_argument("--tenant")
    p.add_argument("--strict", action="store_true", help="write nothing if any row is bad")
    p.set_defaults(handler=dnc_import)


def consent_add(args, ctx) -> int:
    consent = list_entries.add_consent(args.tenant, args.number, source=args.source, evidence=args.evidence,
                                  expires_at=args.expires, region=ctx.settings.default_region, actor=ctx.actor)
    print(f"consent recorded for {consent.number} ({args.tenant})", file=ctx.out)
    return 0


def consent_revoke(args, ctx) -> int:
    count = list_entries.revoke_consent_by_code(args.tenant, args.number, region=ctx.settings.default_region,
                                           actor=ctx.actor)
    print(f"revoked {count} consent record(s)", file=ctx.out)
    return 0


def consent_import(args, ctx) -> int:
    with open_text_file(args.csv) as stream:
        report = list_entries.import_consent(args.tenant, stream, strict=args.strict,
                                        region=ctx.settings.default_region, actor=ctx.actor)
    return _report(ctx, args.csv, report)


def dnc_add(args, ctx) -> int:
    entry = list_entries.add_dnc(args.number, tenant_code=args.tenant, reason=args.reason,
                            region=ctx.settings.default_region, actor=ctx.actor)
    scope = f"tenant {args.tenant}" if args.tenant else "platform"
    print(f"{entry.number} is on the {scope} do-not-call list", file=ctx.out)
    return 0


def dnc_import(args, ctx) -> int:
    with open_text_file(args.csv) as stream:
        report = list_entries.import_dnc(stream, tenant_code=args.tenant, strict=args.strict,
                                    region=ctx.settings.default_region, actor=ctx.actor)
    return _report(ctx, args.csv, report)


def _report(ctx, path: str, report) -> int:
    """Each bad row on stderr with its line; exit 0 all good, 1 partial, 2 strict and nothing written."""
    for line, message in report.errors:
        print(f"{path}:{line}: {message}", file=ctx.err)
    if not report.written:
        print(f"fsapp: {len(report.errors)} bad row(s); nothing imported (--strict)", file=ctx.err)
        return EXIT_BAD_INPUT
    extra = f", {report.skipped_duplicates} already listed" if report.skipped_duplicates else ""
    print(f"imported {report.imported} row(s){extra}; {len(report.errors)} bad row(s)", file=ctx.out)
    return EXIT_PARTIAL if report.errors else 0
