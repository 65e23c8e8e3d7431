"""`fsapp serve`: the Event Socket server for FreeSWITCH and the web admin (with /metrics,
/healthz, /readyz) in one gevent process. SIGTERM drains: stop accepting channels, let live calls
finish up to ``esl_drain_timeout_s``, then stop the web server and exit."""
from __future__ import annotations

import logging
import os
import socket

import gevent
from gevent.pywsgi import WSGIServer

import models
import models.db
import models.migrations

log = logging.getLogger("fsapp.serve")


def node_settings(settings):
    """Name this process in holds and logs (hostname:pid) unless the operator named it."""
    if settings.node_name:
        return settings
    return settings.replace(node_name=f"{socket.gethostname()}:{os.getpid()}")


def build_call_server(settings, host: str, port: int):
    from fs_app.flows import make_handler
    from fs_app.server import CallServer
    from models import geography

    # Load the number geography now, not in the first call's post-dial delay (~1 s).
    geography.table()

    return CallServer(
        make_handler(settings), host, port,
        max_live_calls=settings.esl_max_live_calls,
        allowed_peers=settings.esl_allowed_peers,
        drain_timeout=settings.esl_drain_timeout_s,
        command_timeout=settings.esl_command_timeout_s,
    )


def build_web_app(settings, call_server):
    from admin import create_app
    from fs_app import metrics

    return metrics.mount(create_app(settings), {"event_socket": lambda: _listening(call_server)})


def _listening(call_server) -> str:
    if call_server.draining:
        raise RuntimeError("draining")
    return "ok"


def serve(settings, esl: tuple[str, int], http: tuple[str, int]) -> int:
    from fs_app.logs import setup_logging

    # --esl/--http override the settings, so that callee legs are sent back to where we listen
    settings = node_settings(settings).replace(esl_listen=f"{esl[0]}:{esl[1]}", http_listen=f"{http[0]}:{http[1]}")
    setup_logging(settings)
    if settings.trust_sip_from_header:
        log.warning("trust_sip_from_header is on: seats are identified by the unauthenticated From header "
                    "(A4). Lab use only; anyone who can reach FreeSWITCH can call as any seat.")
    models.open_database(settings.database_url, settings.data_dir, settings.db_pool_size,
                         checkpoint_in_background=True)
    with models.db.unit_of_work():
        models.migrations.require_current()
    stop_checkpointer = models.db.start_wal_checkpointer()
    call_server = build_call_server(settings, *esl)
    web = WSGIServer(http, build_web_app(settings, call_server), log=None, error_log=log)
    call_server.start()
    web.start()
    log.info("fsapp serving: Event Socket %s:%s, admin http://%s:%s (node %s)",
             *call_server.address, *web.address[:2], settings.node_name)
    call_server.install_signal_handlers()
    try:
        call_server.serve_forever()  # returns after a SIGTERM/SIGINT drain
    finally:
        web.stop(timeout=5)
        stop_checkpointer()
        gevent.wait(timeout=1)
    log.info("fsapp stopped")
    return 0
