"""`fsapp serve`: the Event Socket server for FreeSWITCH, the web admin (with /metrics,
/healthz, /readyz) and the SIP directory FreeSWITCH reads over HTTP (``fs_app.directory``). SIGTERM drains: stop accepting channels, let live calls finish up to
``esl_drain_timeout_s``, then stop the web server and exit.

Order of start, so that a refused start leaves nothing behind: bind both listening sockets (a
taken port: one line, exit 2), check the schema, then either serve in this process
(``workers=1``) or hand the sockets to ``fs_app.supervisor``, which runs N worker processes on
them (``fs_app.serve_worker``). Each worker, and the single process, runs ``run``; with
``web_process`` the workers serve only calls and one more worker runs ``run_web`` (the admin, in
a process whose gevent loop no call shares).
"""
from __future__ import annotations

import logging
import os
import signal
import socket

import gevent

import models
import models.db
import models.migrations
from fs_app.http_server import NoDelayWSGIServer
from fs_app.listeners import Listeners, format_address

log = logging.getLogger("fsapp.serve")

WEB_WORKER_NICENESS = 10  # added to the web worker's nice value (lower CPU priority than calls)


def node_settings(settings, *, worker: bool = False):
    """Name this process in holds and logs: hostname:pid unless the operator named it. A worker
    of several always gets its pid appended, so that every process of a node has its own name."""
    if worker:
        return settings.replace(node_name=f"{settings.node_name or socket.gethostname()}:{os.getpid()}")
    if settings.node_name:
        return settings
    return settings.replace(node_name=f"{socket.gethostname()}:{os.getpid()}")


def with_listen_addresses(settings, listeners: Listeners):
    """The addresses actually bound (port 0 becomes the real port), so that callee legs are sent
    back to where we listen."""
    bound = {}
    if listeners.esl is not None:
        bound["esl_listen"] = format_address(*listeners.esl_address)
    if listeners.http is not None:
        bound["http_listen"] = format_address(*listeners.http_address)
    if listeners.directory is not None:
        bound["directory_listen"] = format_address(*listeners.directory_address)
    return settings.replace(**bound)


def directory_address(settings, directory: tuple[str, int] | None):
    """Where the SIP directory listens: only with a shared secret, since without one no request
    could be authorised (the port would only refuse)."""
    if not settings.directory_secret:
        return None
    return directory or settings.directory_listen


def build_call_server(settings, host: str, port: int, *, listener=None):
    from fs_app import metrics
    from fs_app.flows import make_handler
    from fs_app.server import CallServer
    from domain import geography

    # Load the number geography now, not in the first call's post-dial delay (~1 s).
    geography.table()

    return CallServer(
        make_handler(settings), host, port,
        max_live_calls=settings.esl_max_live_calls,
        allowed_peers=settings.esl_allowed_peers,
        drain_timeout=settings.esl_drain_timeout_s,
        command_timeout=settings.esl_command_timeout_s,
        listener=listener,
        on_live_calls=metrics.set_live_calls,
    )


def build_web_app(settings, call_server=None, *, call_workers=None):
    """The admin with /metrics, /healthz and /readyz. Ready also needs this process's call server
    listening (not draining) or, in the web worker of ``--web-process``, a call worker running as
    the supervisor reports it (``fs_app.call_workers.CallWorkersStatus``); there the admin's
    requests also take turns (``fs_app.admin_queue``) so that /healthz never waits behind a flood."""
    from admin import create_app
    from fs_app import metrics
    from fs_app.admin_queue import AdminQueue

    admin = create_app(settings)
    checks = {}
    if call_server is not None:
        checks["event_socket"] = lambda: _listening(call_server)
    if call_workers is not None:
        checks["call_workers"] = call_workers.ready
        admin = AdminQueue(admin)
    return metrics.mount(admin, checks)


def _listening(call_server) -> str:
    if call_server.draining:
        raise RuntimeError("draining")
    return "ok"


def open_database(settings) -> None:
    # SQLite: commits never checkpoint the WAL themselves; one checkpointer thread per install does.
    models.open_database(**settings.database_options(), checkpoint_in_background=True)


def serve(settings, esl: tuple[str, int], http: tuple[str, int], workers: int = 1,
          directory: tuple[str, int] | None = None, web_process: bool = False) -> int:
    """Bind, check, then serve here (workers=1) or supervise ``workers`` worker processes (plus a
    web worker with ``web_process``, even for one call worker).

    Raises ``fs_app.listeners.ListenError`` (before anything started) when a port is taken, and
    ``models.InvalidInput`` when the schema needs `fsapp init`."""
    from fs_app.logs import setup_logging

    listeners = Listeners.bind(esl, http, directory_address(settings, directory))
    try:
        settings = with_listen_addresses(settings, listeners)
        setup_logging(settings)
        if listeners.directory is None:
            log.warning("directory_secret is not set: the SIP directory for FreeSWITCH (mod_xml_curl) is off, "
                        "and FreeSWITCH only knows the users of its static XML files")
        if settings.trust_sip_from_header:
            log.warning("trust_sip_from_header is on: seats are identified by the unauthenticated From header "
                        "(A4). Lab use only; anyone who can reach FreeSWITCH can call as any seat.")
        open_database(settings)
        with models.db.unit_of_work():
            models.migrations.require_current()
        if workers == 1 and not web_process:
            return run(settings, listeners, checkpointer=True)
        from fs_app.supervisor import Supervisor

        models.db.close_all_pools()  # the workers open their own; no connection crosses a fork
        stop_checkpointer = models.db.start_wal_checkpointer()  # one per install, in the supervisor
        try:
            return Supervisor(listeners, workers, web_process=web_process).run()
        finally:
            stop_checkpointer()
    finally:
        listeners.close()


def run(settings, listeners: Listeners, *, checkpointer: bool, worker: str = "") -> int:
    """Serve calls and the admin on the bound sockets until SIGTERM/SIGINT has drained the calls.

    ``worker`` ("2 of 4") is set in a worker process of ``fsapp serve --workers``; the database
    must already be open (``open_database``). Without an HTTP socket (a call worker of
    ``--web-process``) no admin is served here."""
    settings = node_settings(settings, worker=bool(worker))
    stop_checkpointer = models.db.start_wal_checkpointer() if checkpointer else (lambda: None)
    call_server = build_call_server(settings, *listeners.esl_address, listener=listeners.esl)
    servers = []
    if listeners.http is not None:
        servers.append(NoDelayWSGIServer(listeners.http, build_web_app(settings, call_server), log=None,
                                         error_log=log))
    if listeners.directory is not None:
        from fs_app.directory.app import PATH, DirectoryApp

        servers.append(NoDelayWSGIServer(listeners.directory, DirectoryApp(settings), log=None, error_log=log))
        log.info("SIP directory for FreeSWITCH on http://%s%s", format_address(*listeners.directory_address), PATH)
    call_server.start()
    for server in servers:
        server.start()
    # before the "serving" line: a SIGTERM right after it (a supervisor stopping a fresh
    # replacement worker) must drain, not kill the process with Python's default action
    call_server.install_signal_handlers()
    log.info("fsapp serving: Event Socket %s, admin http://%s (node %s%s)",
             format_address(*call_server.address), format_address(*settings.http_listen) if listeners.http is None
             else format_address(*listeners.http_address), settings.node_name, f", worker {worker}" if worker else "")
    try:
        call_server.serve_forever()  # returns after a SIGTERM/SIGINT drain
    finally:
        for server in servers:
            server.stop(timeout=5)
        stop_checkpointer()
        gevent.wait(timeout=1)
    log.info("fsapp stopped%s", f" (worker {worker})" if worker else "")
    return 0


def run_web(settings, listeners: Listeners, call_workers) -> int:
    """The web worker of ``fsapp serve --web-process``: the admin, /healthz, /readyz and /metrics
    on the inherited HTTP socket, no call server. Its supervisor stops it (SIGTERM) after the call
    workers drained; it then finishes the requests in progress (up to 5 s) and exits."""
    from gevent.event import Event

    # When the cores are busy the kernel runs the call workers first: an admin page can wait.
    os.nice(WEB_WORKER_NICENESS)
    settings = node_settings(settings, worker=True)
    web = NoDelayWSGIServer(listeners.http, build_web_app(settings, call_workers=call_workers), log=None,
                            error_log=log)
    stop = Event()
    handlers = [gevent.signal_handler(signum, stop.set) for signum in (signal.SIGTERM, signal.SIGINT)]
    web.start()
    log.info("fsapp web worker serving: admin http://%s (node %s)", format_address(*listeners.http_address),
             settings.node_name)
    try:
        stop.wait()
    finally:
        for handler in handlers:
            handler.cancel()
        web.stop(timeout=5)
        gevent.wait(timeout=1)
    log.info("fsapp stopped (web worker)")
    return 0
