"""The app side of the call-setup benchmark, run as its own OS process.

``--kind ours``: the real product -- ``fs_app.runtime.build_call_server(settings, ...)``, i.e.
:class:`fs_app.server.CallServer` running ``make_handler(settings)`` with the real admission path
(facts + decide + reserve in one transaction) on a real SQLite database, WAL checkpoints in a
background thread and production (INFO, text) logging to a file, exactly as ``fsapp serve`` sets
them up. The database is provisioned in a temporary data directory: one tenant with ``--seats``
seats (``models.seats.seats.add_seat``) and as many purchased, ``--numbers`` Beijing leased numbers with
a high ``max_calls``, a large prepaid balance, an approved campaign, consent for ``--callees``
distinct Beijing mobiles (bulk ``insert_many``), calling windows 00:00-24:00, and a prompt
directory of placeholder files (every prompt the flows look up exists, nothing is rendered).
Seat ``i`` is ``<10000+i>@bench.example``; callee ``i`` is dialled as ``13800100000+i``.

``--kind channel``: the server + channel path only, no database: the agent leg is answered, an
optional per-call hook runs (``--app module:function``, called with the channel before the
originate), then ``bgapi originate ... '&socket(...)'``; the callee leg is bridged with
``uuid_bridge``. Against ``ours`` it shows where the time goes (channel vs admission).

``--kind baseline``: bare greenswitch, used the ordinary way (``OutboundSession``: connect,
myevents, linger, answer, ``bridge`` app), but accepted by a plain gevent ``StreamServer``
instead of greenswitch's ``OutboundESLServer`` (whose 100 ms accept polling and 100-connection
cap would dominate the measurement).

Prints ``READY <port>`` once listening; exits on SIGTERM. To profile, attach py-spy to the pid
(``py-spy record --pid <pid> --gil``).
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

CALLEE_DIAL = "sofia/external/{number}@127.0.0.1:5090"
SEAT_DOMAIN = "bench.example"
TENANT = "bench"
FIRST_CALLEE = 13800100000  # 1380010xxxx-1380019xxxx: Beijing mobiles (the leases are Beijing numbers)


def seat_user(i: int) -> str:
    return str(10000 + i)


def callee_dialled(i: int) -> str:
    return str(FIRST_CALLEE + i)


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def load_hook(spec: str | None):
    if not spec:
        return None
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------------------------- ours (real)
def write_prompt_dir(root: str, tenant_code: str) -> None:
    """A placeholder file for every prompt the flows can look up (generic and the tenant's)."""
    from fs_app.prompts.catalogue import LANGUAGES, PROMPTS

    header = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00@\x1f\x00\x00\x80>\x00\x00" \
             b"\x02\x00\x10\x00data\x00\x00\x00\x00"  # empty 8 kHz 16-bit mono WAV
    for name, prompt in PROMPTS.items():
        for lang in LANGUAGES:
            folder = os.path.join(root, "tenants", tenant_code, lang) if prompt.per_tenant else os.path.join(root, lang)
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, f"{name}.wav"), "wb") as fh:
                fh.write(header)


def provision(seats: int, numbers: int, callees: int) -> None:
    from datetime import timedelta

    import models
    from models.ledger import topups
    from models.seats import number_leases
    from models.seats import seats as seat_models
    from models.tenancy import campaigns
    from models.tenancy import tenants
    from domain.clock import utcnow
    from models.lists.tables import Consent

    t0 = time.perf_counter()
    with models.database.atomic():
        tenants.add_tenant(TENANT, name="Bench", display_name="Bench", hotline="4001234567",
                                seats=seats, rate=10)
        tenants.set_tenant(TENANT, status="active")
        topups.topup(TENANT, 1_000_000_000)
        for i in range(numbers):
            number_leases.lease_number(TENANT, f"+8610{61234500 + i}", max_calls=100_000)
        campaigns.add_campaign(TENANT, "spring", script="您好，这里是春季回访。", record=True)
        campaigns.review_campaign(TENANT, "spring", approve=True, actor="operator")
        for i in range(seats):
            seat_models.add_seat(TENANT, f"{seat_user(i)}@{SEAT_DOMAIN}", campaign="spring")
        tenant = tenants.get_tenant(TENANT)
        obtained = utcnow() - timedelta(days=1)
        rows = [dict(tenant=tenant.id, number=f"+86{callee_dialled(i)}", source="bench", obtained_at=obtained,
                     created_at=obtained) for i in range(callees)]
        for start in range(0, len(rows), 5000):
            Consent.insert_many(rows[start:start + 5000]).execute()
    print(f"provisioned {seats} seats, {numbers} numbers, {callees} consents in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)


def provision_into(data_dir: str, args) -> None:
    import models
    from fs_app.config import load_settings

    settings = load_settings({"FSAPP_DATA_DIR": data_dir})
    models.open_database(settings.database_url, settings.data_dir, 1)
    models.migrate()
    provision(args.seats, args.numbers, args.callees)
    models.database.close()


def ring_callee_before_issue_15(self):
    """The agent leg's sequence before issue 15, the baseline of bench/call_pdd.py: ``answer``
    (waited for: two FreeSWITCH ticks), the ringback, then ``bgapi originate``; everything after
    the originate is today's flow."""
    from fs_app.flows.common import RINGBACK, socket_address

    channel = self.channel
    channel.answer()
    ringback = channel.execute_async("playback", RINGBACK)
    return self._follow_originate(
        lambda: channel.originate(self._dial_string(), socket_address=socket_address(self.settings, callee=True),
                                  variables=self._variables(),
                                  timeout=self.settings.originate_timeout_s + self.settings.esl_command_timeout_s),
        ringback)


def ours(port: int, hook, hold: bool, args):
    import models
    import models.db
    import models.migrations
    from fs_app.config import load_settings
    from fs_app.logs import setup_logging
    from fs_app.runtime import build_call_server

    data_dir = tempfile.mkdtemp(prefix="fsapp-bench-")
    prompt_dir = os.path.join(data_dir, "prompts")
    write_prompt_dir(prompt_dir, TENANT)
    port = port or free_port()
    env = {
        "FSAPP_DATA_DIR": data_dir, "FSAPP_PROMPT_DIR": prompt_dir, "FSAPP_CALLING_WINDOWS": "00:00-24:00",
        "FSAPP_ESL_LISTEN": f"127.0.0.1:{port}", "FSAPP_NODE_NAME": "bench",
        # every call has two legs (two connections): 2,000 live calls are 4,000 channels
        "FSAPP_ESL_MAX_LIVE_CALLS": str(max(4 * args.seats, 10_000)),
        "FSAPP_LOG_LEVEL": args.log_level,
    }
    if args.db_pool_size:
        env["FSAPP_DB_POOL_SIZE"] = str(args.db_pool_size)
    settings = load_settings(env)
    # The operator provisions with the fsapp CLI, not inside the serving process: do it in a
    # child process so that its objects and page cache do not count in the server's RSS.
    subprocess.run([sys.executable, "-m", "bench.call_app", "--kind", "ours", "--provision-into", data_dir,
                    "--seats", str(args.seats), "--numbers", str(args.numbers), "--callees", str(args.callees)],
                   check=True, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if args.flow == "before-issue-15":
        from fs_app.flows.agent_leg import AgentCall
        AgentCall._ring_callee = ring_callee_before_issue_15
    models.open_database(settings.database_url, settings.data_dir, settings.db_pool_size,
                         checkpoint_in_background=True)
    models.migrations.require_current()
    stop_checkpointer = models.db.start_wal_checkpointer()
    log_file = open(os.path.join(data_dir, "fsapp.log"), "a", buffering=1 << 16)
    setup_logging(settings, stream=log_file)
    server = build_call_server(settings, "127.0.0.1", port)
    server.start()
    server.install_signal_handlers()

    def wait():
        try:
            server.serve_forever()
        finally:
            stop_checkpointer()
            log_file.flush()
            if args.keep_data:
                print(f"data dir kept: {data_dir}", file=sys.stderr, flush=True)
            else:
                shutil.rmtree(data_dir, ignore_errors=True)
    return server.address[1], wait


# ---------------------------------------------------------------------------------- channel only
def channel_only(port: int, hook, hold: bool, args):
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


# ---------------------------------------------------------------------------------- baseline
def baseline(port: int, hook, hold: bool, args):
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


KINDS = {"ours": ours, "channel": channel_only, "baseline": baseline}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--kind", choices=sorted(KINDS), required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--app", help="(channel) module:function called with the agent channel before the originate")
    parser.add_argument("--hold", action="store_true")
    parser.add_argument("--seats", type=int, default=1000, help="(ours) seats = purchased seats")
    parser.add_argument("--numbers", type=int, default=4, help="(ours) Beijing leased numbers")
    parser.add_argument("--callees", type=int, default=10000, help="(ours) consented callees")
    parser.add_argument("--log-level", default="INFO", help="(ours) FSAPP_LOG_LEVEL (production default INFO)")
    parser.add_argument("--db-pool-size", type=int, default=0, help="(ours) FSAPP_DB_POOL_SIZE (default: the product's)")
    parser.add_argument("--keep-data", action="store_true", help="(ours) keep the temporary data dir")
    parser.add_argument("--flow", choices=("current", "before-issue-15"), default="current",
                        help="(ours) the agent leg's sequence: today's, or answer-then-originate as before issue 15")
    parser.add_argument("--provision-into", metavar="DATA_DIR",
                        help="(ours) create and provision the database in DATA_DIR, then exit")
    args = parser.parse_args(argv)
    if args.provision_into:
        provision_into(args.provision_into, args)
        return
    if args.kind != "ours":  # ours logs the way `fsapp serve` does (setup_logging)
        logging.basicConfig(level=logging.ERROR)
    raise_fd_limit()
    port, wait = KINDS[args.kind](args.port, load_hook(args.app), args.hold, args)
    if os.environ.get("BENCH_TRACEMALLOC"):  # SIGUSR1 prints where the memory went since READY
        import gc
        import tracemalloc
        tracemalloc.start(int(os.environ["BENCH_TRACEMALLOC"]))
        start = tracemalloc.take_snapshot()

        def dump():
            gc.collect()
            stats = tracemalloc.take_snapshot().compare_to(start, "traceback")
            for stat in stats[:25]:
                print(stat, file=sys.stderr)
                for line in stat.traceback.format()[-8:]:
                    print("    " + line, file=sys.stderr)
            sys.stderr.flush()
        gevent.signal_handler(signal.SIGUSR1, dump)
    if os.environ.get("BENCH_OBJECTS"):  # SIGUSR2 prints live objects by type
        def objects():
            import collections
            import gc

            gc.collect()
            count, size = collections.Counter(), collections.Counter()
            for obj in gc.get_objects():
                name = type(obj).__name__
                count[name] += 1
                size[name] += sys.getsizeof(obj)
            print("greenlets", count["Greenlet"] + count["greenlet"], file=sys.stderr)
            for name, total in size.most_common(20):
                print(f"{name:30} {count[name]:>8} {total / 1e6:8.1f} MB", file=sys.stderr)
            sys._debugmallocstats()
            sys.stderr.flush()
        gevent.signal_handler(signal.SIGUSR2, objects)
    print(f"READY {port}", flush=True)
    wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
