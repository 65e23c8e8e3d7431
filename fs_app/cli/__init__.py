"""The `fsapp` command. Operators script against it: names, flags and exit codes are a contract.

Exit codes: 0 success; 2 bad input (one line on stderr, nothing written); other codes are
documented per command (1 partial import, 3 blocked for `check`).

Each module named in COMMAND_MODULES defines ``register(subparsers)`` and sets
``handler=fn(args, ctx) -> int`` on its parsers; ``needs_db=False`` on a parser skips opening
the database.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from typing import TextIO

from fs_app.config import ConfigError, Settings, load_settings

COMMAND_MODULES = ["system", "serve", "provisioning", "lists", "users", "prompts", "money", "ops", "check", "complaints"]

EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_BAD_INPUT = 2


@dataclass
class Context:
    settings: Settings
    out: TextIO
    err: TextIO
    actor: str = "cli"


class CliArgumentParser(argparse.ArgumentParser):
    """argparse exits 2 on bad usage already; keep its message to one line on stderr."""

    def error(self, message: str):  # noqa: D401 - argparse API
        raise _UsageError(f"{self.prog}: {message}")


class _UsageError(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    parser = CliArgumentParser(prog="fsapp", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CliArgumentParser)
    for name in COMMAND_MODULES:
        importlib.import_module(f"fs_app.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None,
         env=None) -> int:
    from models import InvalidInput
    import models

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        print(str(exc), file=err)
        return EXIT_BAD_INPUT
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        print(f"fsapp: {exc}", file=err)
        return EXIT_BAD_INPUT
    ctx = Context(settings=settings, out=out, err=err)
    try:
        if getattr(args, "needs_db", True):
            db = models.open_database(**settings.database_options())
            with db.connection_context():
                _require_schema(args)
                return args.handler(args, ctx)
        return args.handler(args, ctx)
    except InvalidInput as exc:
        print(f"fsapp: {exc}", file=err)
        return EXIT_BAD_INPUT
    except ConfigError as exc:
        print(f"fsapp: {exc}", file=err)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `fsapp calls | head`
        return EXIT_OK


def _require_schema(args) -> None:
    from models.migrations import require_current

    if getattr(args, "command", "") != "init":
        require_current()
