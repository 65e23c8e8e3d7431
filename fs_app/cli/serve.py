"""`fsapp serve [--esl HOST:PORT] [--http HOST:PORT] [--directory HOST:PORT] [--workers N] [--web-process]`:
the main job."""
from __future__ import annotations

import argparse

from fs_app.config import ConfigError, SETTINGS_BY_KEY

MAX_WORKERS = 64


def _address(text: str) -> tuple[str, int]:
    try:
        return SETTINGS_BY_KEY["esl_listen"].parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ConfigError as exc:  # pragma: no cover - parse raises ValueError
        raise argparse.ArgumentTypeError(str(exc)) from None


def _workers(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of processes, got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_WORKERS}, got {value}")
    return value


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the Event Socket server and the web admin")
    p.add_argument("--esl", type=_address, help="Event Socket listen address (default: esl_listen)")
    p.add_argument("--http", type=_address, help="web admin listen address (default: http_listen)")
    p.add_argument("--directory", type=_address,
                   help="SIP directory listen address (default: directory_listen; only with directory_secret)")
    p.add_argument("--workers", type=_workers, default=1,
                   help="worker processes sharing both ports, one per spare core "
                        "(default 1: no supervisor, unless --web-process)")
    p.add_argument("--web-process", action="store_true",
                   help="serve the admin, /healthz, /readyz and /metrics from one more process of its own, so "
                        "no admin page shares a process with a call (recommended in production)")
    p.set_defaults(handler=serve, needs_db=False)  # serve opens the database its own way


def serve(args, ctx) -> int:
    from fs_app.listeners import ListenError
    from fs_app.runtime import serve as run

    if args.web_process and args.workers >= MAX_WORKERS:
        print(f"fsapp: --web-process adds a process to the call workers: use --workers {MAX_WORKERS - 1} "
              f"at most with it (got {args.workers})", file=ctx.err)
        return 2
    try:
        return run(ctx.settings, args.esl or ctx.settings.esl_listen, args.http or ctx.settings.http_listen,
                   workers=args.workers, directory=args.directory, web_process=args.web_process)
    except ListenError as exc:  # a taken port: nothing was started, nothing written
        print(f"fsapp: {exc}", file=ctx.err)
        return 2
