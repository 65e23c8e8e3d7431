"""`fsapp prompts ...`: render the prompt catalogue, install tenants' recordings, list prompts."""
from __future__ import annotations

from pathlib import Path

from domain.errors import InvalidInput

from fs_app import prompts
from fs_app.prompts import audio


def register(subparsers) -> None:
    parser = subparsers.add_parser("prompts", help="prompt audio: build, upload, list")
    commands = parser.add_subparsers(dest="prompts_command", metavar="COMMAND")
    commands.required = True

    build = commands.add_parser(
        "build", help="render the catalogue to 8 kHz WAV with espeak-ng (only what changed)")
    build.add_argument("--tenant", metavar="CODE", help="only this tenant's own prompts (its disclosure)")
    build.add_argument("--force", action="store_true", help="re-render even unchanged files")
    build.set_defaults(handler=cmd_build, needs_db=False)  # works before `fsapp init`

    upload = commands.add_parser(
        "upload", help="install a tenant's own recording of a prompt (RIFF WAV, 8000 Hz mono 16-bit)")
    upload.add_argument("tenant", metavar="TENANT", help="tenant code")
    upload.add_argument("name", metavar="NAME", help="prompt name, e.g. disclosure")
    upload.add_argument("file", metavar="FILE", type=Path, help="WAV file")
    upload.add_argument("--lang", choices=prompts.LANGUAGES, default="zh", help="language (default zh)")
    upload.add_argument("--resample", action="store_true",
                        help="convert other rates/channel layouts to 8000 Hz mono with sox")
    upload.set_defaults(handler=cmd_upload, needs_db=False)

    listing = commands.add_parser("list", help="the catalogue: names, audience and words")
    listing.add_argument("--lang", choices=prompts.LANGUAGES, default="zh")
    listing.set_defaults(handler=cmd_list, needs_db=False)


def _tenants(settings, code: str | None):
    """Tenants from the database, or (None, reason) when no database is set up yet."""
    try:
        import peewee
        import models
    except ImportError as exc:  # the models package is incomplete in a partial checkout
        return None, f"the tenant models cannot be imported ({exc})"
    if getattr(models.database, "obj", None) is None:
        url = getattr(settings, "database_url", "") or ""
        sqlite_file = Path(settings.data_dir) / models.db.SQLITE_FILENAME
        if not url and not sqlite_file.exists():
            return None, f"no database yet ({sqlite_file} does not exist)"
        models.open_database(url, settings.data_dir)
    try:
        query = models.Tenant.select().order_by(models.Tenant.code)
        if code:
            query = query.where(models.Tenant.code == code)
        return list(query), None
    except peewee.DatabaseError as exc:
        return None, f"the database is not initialised ({str(exc).splitlines()[0]})"


def cmd_build(args, ctx) -> int:
    settings = ctx.settings
    tenants, unavailable = _tenants(settings, args.tenant)
    if args.tenant:
        if tenants is None:
            raise InvalidInput(f"cannot build prompts of tenant {args.tenant}: {unavailable}")
        if not tenants:
            raise InvalidInput(f"no tenant with code {args.tenant!r}")
    elif tenants is None:
        print(f"{unavailable}: building the generic prompts only", file=ctx.out)
        tenants = []
    try:
        report = prompts.build_prompts(settings, tenants, generic=not args.tenant, force=args.force)
    except audio.AudioToolMissing as exc:
        raise InvalidInput(f"cannot build prompts: {exc}") from None
    except audio.AudioError as exc:
        raise InvalidInput(f"cannot build prompts: {exc}") from None
    for rel in report.built:
        print(f"built {rel}", file=ctx.out)
    print(f"{len(report.built)} built, {len(report.unchanged)} unchanged, "
          f"{len(tenants)} tenant(s), in {settings.prompt_dir}", file=ctx.out)
    return 0


def cmd_upload(args, ctx) -> int:
    settings = ctx.settings
    tenants, unavailable = _tenants(settings, args.tenant)
    if tenants is not None and not tenants:
        raise InvalidInput(f"no tenant with code {args.tenant!r}")
    result = prompts.upload_prompt(settings, args.tenant, args.name, args.file, args.lang,
                                   resample=args.resample)
    note = f" (converted with sox from {result.converted_from})" if result.converted_from else ""
    print(f"installed {result.path}: {result.info.describe()}{note}", file=ctx.out)
    if tenants is None:
        print(f"note: tenant {args.tenant} was not checked: {unavailable}", file=ctx.err)
    return 0


def cmd_list(args, ctx) -> int:
    values = {"optout_key": getattr(ctx.settings, "optout_key", "9"),
              "warning_seconds": getattr(ctx.settings, "duration_warning_s", 30)}
    for prompt in prompts.PROMPTS.values():
        # Per-tenant prompts are shown as their template: the words depend on each tenant.
        text = prompt.text(args.lang) if prompt.per_tenant else prompts.render_text(prompt.name, args.lang, values)
        print(f"{prompt.name:28} {prompt.audience:8} {text}", file=ctx.out)
    return 0
