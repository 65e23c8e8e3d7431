"""One worker process of ``fsapp serve --workers N``, started by ``fs_app.supervisor``:

    python -P -m fs_app.serve_worker --esl-fd 3 --http-fd 4 [--directory-fd 5] --worker 2 --workers 4 --supervisor PID
    python -P -m fs_app.serve_worker --role calls --esl-fd 3 [--directory-fd 5] --worker 2 --workers 4 --supervisor PID
    python -P -m fs_app.serve_worker --role web --http-fd 4 --call-workers-status FILE --supervisor PID

It serves calls and the admin on the listening sockets it inherited (file descriptors), reads the
same configuration as its supervisor (FSAPP_CONFIG and the environment), names itself
hostname:pid, and drains on SIGTERM like a single `fsapp serve`. With `fsapp serve --web-process`
a worker has one role: ``calls`` (Event Socket and SIP directory only) or ``web`` (the admin,
/healthz, /readyz and /metrics only; see ``fs_app.runtime.run_web``). It never checkpoints the SQLite
WAL (the supervisor's thread does) and stops when its supervisor dies. Exit 2: unusable
configuration (the supervisor then stops every worker instead of restarting this one).
"""
import fs_app.launcher  # noqa: F401  - gevent and psycopg2 made cooperative before anything else

import argparse  # noqa: E402
import ctypes  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

EXIT_BAD_CONFIGURATION = 2
_PR_SET_PDEATHSIG = 1


def stop_with_supervisor(supervisor_pid: int) -> None:
    """Ask Linux for SIGTERM (a drain) when the supervisor dies, e.g. killed with SIGKILL, so no
    orphaned worker keeps the port. The check after it closes the race with a supervisor that
    died before the request was made."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != supervisor_pid:
        raise SystemExit(f"fsapp worker: supervisor {supervisor_pid} is gone")


def main(argv: list[str] | None = None) -> int:
    from fs_app import runtime
    from fs_app.config import ConfigError, load_settings
    from fs_app.listeners import Listeners
    from fs_app.logs import setup_logging

    parser = argparse.ArgumentParser(prog="fs_app.serve_worker")
    parser.add_argument("--role", choices=("all", "calls", "web"), default="all")
    parser.add_argument("--esl-fd", type=int)
    parser.add_argument("--http-fd", type=int)
    parser.add_argument("--directory-fd", type=int)
    parser.add_argument("--worker", type=int)
    parser.add_argument("--workers", type=int)
    parser.add_argument("--call-workers-status", help="the supervisor's call workers file (role web)")
    parser.add_argument("--supervisor", type=int, required=True)
    args = parser.parse_args(argv)
    needed = {"all": ("esl_fd", "http_fd", "worker", "workers"), "calls": ("esl_fd", "worker", "workers"),
              "web": ("http_fd", "call_workers_status")}[args.role]
    missing = [name for name in needed if getattr(args, name) is None]
    if missing:
        parser.error(f"role {args.role} needs " + ", ".join("--" + name.replace("_", "-") for name in missing))
    stop_with_supervisor(args.supervisor)
    listeners = Listeners.from_fds(args.esl_fd, None if args.role == "calls" else args.http_fd,
                                   None if args.role == "web" else args.directory_fd)
    try:
        settings = runtime.with_listen_addresses(load_settings(), listeners)
    except ConfigError as exc:
        print(f"fsapp: {exc}", file=sys.stderr)
        return EXIT_BAD_CONFIGURATION
    setup_logging(settings)
    runtime.open_database(settings)
    if args.role == "web":
        from fs_app.call_workers import CallWorkersStatus

        return runtime.run_web(settings, listeners, CallWorkersStatus(args.call_workers_status))
    return runtime.run(settings, listeners, checkpointer=False, worker=f"{args.worker} of {args.workers}")


if __name__ == "__main__":
    raise SystemExit(main())
