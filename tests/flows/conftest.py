"""Call-flow tests: the real CallServer with make_handler, the fake FreeSWITCH over TCP, a real
database, prompts rendered once per session with espeak-ng/sox (the generic set; each tenant's
disclosure is rendered on demand by the flow itself)."""
from __future__ import annotations

import time
from datetime import timedelta

import gevent
import pytest

from fs_app.config import load_settings
from fs_app.flows import make_handler
from fs_app.prompts import build_prompts
from fs_app.server import CallServer
from fake_switch import FakeFreeSwitch
from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats as seat_models
from models.tenancy import campaigns
from models.tenancy import tenants
from domain.clock import utcnow
from models.tenancy.tables import Tenant

CALLEE = "+8613800138000"  # Beijing mobile
DIALLED = "13800138000"
BEIJING_NUMBER = "+861061234567"
SHANGHAI_NUMBER = "+862161234567"
SEAT_USER, SEAT_DOMAIN = "1001", "acme.example"


@pytest.fixture(scope="session")
def prompt_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("prompts")
    settings = load_settings({"FSAPP_DATA_DIR": str(root.parent), "FSAPP_PROMPT_DIR": str(root)})
    build_prompts(settings)
    return root


def base_env(tmp_path, prompt_root) -> dict:
    return {
        "FSAPP_DATA_DIR": str(tmp_path), "FSAPP_PROMPT_DIR": str(prompt_root),
        "FSAPP_CALLING_WINDOWS": "00:00-24:00", "FSAPP_RECORDING_CONSENT_TIMEOUT_S": "1",
        "FSAPP_ORIGINATE_TIMEOUT_S": "2", "FSAPP_NODE_NAME": "test-node", "FSAPP_ESL_COMMAND_TIMEOUT_S": "3",
    }


@pytest.fixture
def make_settings(tmp_path, prompt_root):
    """Settings for a test whose database is already bound (sqlite_db or db)."""
    def make(**overrides):
        env = base_env(tmp_path, prompt_root)
        env.update({f"FSAPP_{k.upper()}": str(v) for k, v in overrides.items()})
        return load_settings(env)
    return make


class Telephony:
    """App servers running make_handler and one fake FreeSWITCH calling the first of them.

    The fake's scheduler is held (``hold_scheduler``): the duration limit the callee leg arms at
    the answer (sched_hangup / sched_broadcast, two minutes for a funded tenant) would otherwise
    fire 1.2 s later at time_scale 0.01, racing the app's unscaled prompts and bridge on a busy
    machine. The limit's own test releases it once the call is bridged."""

    def __init__(self):
        self.servers: list[CallServer] = []
        self.fake: FakeFreeSwitch | None = None

    def server(self, settings) -> CallServer:
        server = CallServer(lambda channel: None, "127.0.0.1", 0, command_timeout=3.0)
        server.start()
        host, port = server.address
        if not settings.esl_callee_address:
            settings = settings.replace(esl_listen=f"{host}:{port}")
        server.handler = make_handler(settings)
        server.settings = settings
        self.servers.append(server)
        return server

    def start(self, settings, *, time_scale=0.01, **fake_kwargs) -> FakeFreeSwitch:
        server = self.server(settings)
        self.fake = FakeFreeSwitch(*server.address, time_scale=time_scale, **fake_kwargs)
        self.fake.hold_scheduler()
        return self.fake

    def wait_idle(self, timeout=10.0) -> bool:
        """Wait until no handler runs on any server (every call's flow returned)."""
        deadline = time.monotonic() + timeout
        while any(server.live_calls for server in self.servers):
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.01)
        return True

    def close(self):
        if self.fake is not None:
            self.fake.close()
        for server in self.servers:
            server.stop()


@pytest.fixture
def telephony():
    t = Telephony()
    yield t
    t.close()


def make_tenant(code="acme", *, balance=10_000, rate=10, numbers=(BEIJING_NUMBER,), callees=(CALLEE,),
                record=True, approve=True, status="active", seats=2, inbound_mode="simultaneous",
                seat_users=(SEAT_USER,)) -> Tenant:
    tenants.add_tenant(code, name=code.title(), display_name=code.title(), hotline="4001234567",
                            seats=seats, rate=rate)
    tenants.set_tenant(code, status="active")
    if balance:
        topups.topup(code, balance)
    for number in numbers:
        number_leases.lease_number(code, number, inbound_mode=inbound_mode)
    campaigns.add_campaign(code, "spring", script="您好，这里是春季回访。", record=record)
    if approve:
        campaigns.review_campaign(code, "spring", approve=True, actor="operator")
    for user in seat_users:
        seat_models.add_seat(code, f"{user}@{SEAT_DOMAIN}", campaign="spring")
    for callee in callees:
        list_entries.add_consent(code, callee, source="web form", obtained_at=utcnow() - timedelta(days=1))
    if status != "active":
        tenants.set_tenant(code, status=status)
    return Tenant.get(Tenant.code == code)


def place_agent_call(fake, dialled=DIALLED, *, user=SEAT_USER, callee_scripts=None, script=None, **kwargs):
    auth = {} if user is None else {"sip_auth_username": user, "sip_auth_realm": SEAT_DOMAIN}
    return fake.place_call(dialled, caller=user or "anonymous", variables={"fsapp_direction": "outbound",
                                                                          "fsapp_campaign": ""},
                           callee_scripts=callee_scripts, script=script, **auth, **kwargs)


def played(leg) -> list[str]:
    """Files the app asked FreeSWITCH to play on this leg (playback / play_and_get_digits)."""
    out = []
    if leg.connection is None:
        return out
    for _, direction, data in leg.connection.frames:
        if direction != "app->fs" or b"execute-app-name" not in data:
            continue
        headers = dict(line.split(": ", 1) for line in data.decode().split("\n") if ": " in line)
        app, arg = headers.get("execute-app-name"), headers.get("execute-app-arg", "")
        if app == "playback":
            out.append(arg)
        elif app == "play_and_get_digits":
            out.append(arg.split(" ")[5])
    return out


def names(paths) -> list[str]:
    """Prompt names of played files (``.../zh/disclosure.wav`` -> ``disclosure``)."""
    return [p.rsplit("/", 1)[-1].rsplit(".", 1)[0] if not p.startswith("tone_stream") else "tone" for p in paths]


def shanghai_window_excluding_now() -> str:
    """A one-minute calling window twelve hours away from now on the process clock (Shanghai time)."""
    hour = ((utcnow() + timedelta(hours=8)).hour + 12) % 24
    return f"{hour:02d}:00-{hour:02d}:01"


def today() -> str:
    """The UTC day on the process clock (recordings are filed under it)."""
    return utcnow().strftime("%Y-%m-%d")
