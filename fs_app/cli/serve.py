"""`fsapp serve [--esl HOST:PORT] [--http HOST:PORT]`: the main job."""
from __future__ import annotations

import argparse

from fs_app.config import ConfigError, SETTINGS_BY_KEY


def _address(text: str) -> tuple[str, int]:
    try:
        return SETTINGS_BY_KEY["esl_listen"].parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ConfigError as exc:  # pragma: no cover - parse raises ValueError
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the Event Socket server and the web admin")
    p.add_argument("--esl", type=_address, help="Event Socket listen address (default: esl_listen)")
    p.add_argument("--http", type=_address, help="web admin listen address (default: http_listen)")
    p.set_defaults(handler=serve, needs_db=False)  # serve opens the database its own way


def serve(args, ctx) -> int:
    from fs_app.runtime import serve as run

    return run(ctx.settings, args.esl or ctx.settings.esl_listen, args.http or ctx.settings.http_listen)
