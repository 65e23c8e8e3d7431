"""`fsapp init` and `fsapp config show`."""
from __future__ import annotations

from fs_app.cli.output import write_json


def register(sub) -> None:
    p = sub.add_parser("init", help="create or upgrade the database (idempotent)")
    p.set_defaults(handler=init)

    config = sub.add_parser("config", help="configuration")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", help="print every effective setting and where it came from")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=config_show, needs_db=False)


def init(args, ctx) -> int:
    from models import current_version, migrate

    settings = ctx.settings
    for directory in (settings.data_dir, settings.prompt_dir, settings.recording_dir, settings.cdr_dir):
        directory.mkdir(parents=True, exist_ok=True)
    applied = migrate()
    where = settings.database_url.split("@")[-1] if settings.database_url else str(settings.data_dir / "fsapp.db")
    if applied:
        print(f"database {where}: applied schema version(s) {', '.join(map(str, applied))}; "
              f"now at version {current_version()}", file=ctx.out)
    else:
        print(f"database {where}: already at schema version {current_version()}", file=ctx.out)
    return 0


SECRETS = ("secret_key", "directory_secret", "esl_password")


def config_show(args, ctx) -> int:
    from fs_app.config import SETTINGS_BY_KEY

    rows = []
    for key, value, source in ctx.settings.items():
        shown = SETTINGS_BY_KEY[key].display(value)
        if key in SECRETS + ("database_url",) and value:
            shown = _redact(key, shown)
        rows.append({"key": key, "value": shown, "source": source, "rule": SETTINGS_BY_KEY[key].rule})
    if args.json:
        write_json(ctx.out, rows)
        return 0
    width = max(len(r["key"]) for r in rows)
    for row in rows:
        rule = f" [{row['rule']}]" if row["rule"] else ""
        print(f"{row['key'].ljust(width)} = {row['value']}    # {row['source']}{rule}", file=ctx.out)
    return 0


def _redact(key: str, shown: str) -> str:
    if key in SECRETS:
        return "(set)"
    # Keep the host, hide a password in postgresql://user:password@host/db.
    scheme, sep, rest = shown.partition("://")
    credentials, at, host = rest.rpartition("@")
    if at and ":" in credentials:
        credentials = credentials.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{credentials}{at}{host}"
