"""The app side of the call-setup benchmark, run as its own OS process.

``--kind ours``: :class:`fs_app.server.CallServer` + :class:`fs_app.channel.Channel`. The agent
leg is answered, an optional per-call hook runs (``--app module:function``, called with the
channel before the originate: the place where admission plugs in), then the callee leg is
created with ``bgapi originate ... '&socket(...)'``. The callee leg arrives as a second
connection and is bridged to the agent leg with ``uuid_bridge``.

``--kind baseline``: bare greenswitch, used the ordinary way (``OutboundSession``: connect,
myevents, linger, answer, ``bridge`` app), but accepted by a plain gevent ``StreamServer``
instead of greenswitch's ``OutboundESLServer`` (whose 100 ms accept polling and 100-connection
cap would dominate the measurement).

Prints ``READY <port>`` once listening; exits on SIGTERM.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

CALLEE_DIAL = "sofia/external/{number}@127.0.0.1:5090"


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def load_hook(spec: str | None):
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def ours(port: int, hook, hold: bool):
    from fs_app.channel import ChannelError
    from fs_app.server import CallServer

    def handler(channel):
        if channel.variable("fsapp_role") == "callee":
            parent = channel.variable("fsapp_parent")
            try:
                channel.uuid_bridge(parent)
            except ChannelError:  # one side already hung up: clear the other
                channel.uuid_kill(parent)
                channel.hangup()
                return
            channel.wait_hangup(3600)
            return
        channel.answer()
        if hook is not None:
            hook(channel)
        try:
            channel.originate(CALLEE_DIAL.format(number=channel.get("Caller-Destination-Number")),
                              socket_address=server.address,
                              variables={"fsapp_parent": channel.uuid, "fsapp_role": "callee",
                                         "origination_caller_id_number": "+862012345678"})
        except ChannelError:
            channel.hangup()
            return
        try:
            # a callee that hangs up before its own socket setup finished never bridges:
            # do not wait for it forever (the real callee flow owns this decision)
            channel.wait_hangup(3600 if hold else 3.0)
        except ChannelError:
            channel.hangup()

    server = CallServer(handler, "127.0.0.1", port, max_live_calls=100000, drain_timeout=5.0)
    server.start()
    server.install_signal_handlers()
    return server.address[1], server.serve_forever


def baseline(port: int, hook, hold: bool):
    from greenswitch.esl import OutboundSession

    def handle(sock, address):
        session = OutboundSession(client_address=address, sock=sock)
        try:
            session.connect()
            session.myevents()
            session.linger()
            session.answer()
            number = session.session_data.get("Caller-Destination-Number")
            session.bridge(CALLEE_DIAL.format(number=number), block=True, response_timeout=3600)
            session.hangup()
            session.send("exit")
        except Exception:
            pass
        finally:
            session.stop()

    server = StreamServer(("127.0.0.1", port), handle, backlog=2048)
    server.start()
    stopped = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopped.set)
    return server.server_port, stopped.wait


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=("ours", "baseline"), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", help="module:function called with the agent channel before the originate")
    parser.add_argument("--hold", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    raise_fd_limit()
    start = ours if args.kind == "ours" else baseline
    port, wait = start(args.port, load_hook(args.app), args.hold)
    print(f"READY {port}", flush=True)
    wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
