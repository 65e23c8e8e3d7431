"""The compose stack, the Dockerfile and .env.example, checked as files (this machine has no
Docker engine): services, networking, published ports, health checks, volumes, host paths,
secrets only from the environment, and the app environment accepted by the app's own settings."""
from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

from fs_app.config import SETTINGS_BY_KEY, load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
COMPOSE_TEXT = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
SERVICES = COMPOSE["services"]
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|_KEY$")
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[-?])([^}]*))?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


class MissingVariable(Exception):
    pass


def interpolate(value, env: dict[str, str]):
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        present = name in env and (env[name] != "" or operator in ("-", "?"))
        if operator in (":?", "?") and not present:
            raise MissingVariable(f"{name}: {argument}")
        if operator in (":-", "-") and not present:
            return argument
        return env.get(name, "")

    parts = value.split("$$")
    return "$".join(VARIABLE.sub(replace, part) for part in parts)


def published_ports(service: dict) -> list[tuple[str, str, str]]:
    """(host ip, container port or range, protocol) of each published port, after defaults."""
    result = []
    for spec in service.get("ports", []):
        text = interpolate(str(spec), {})
        text, _, protocol = text.partition("/")
        pieces = text.split(":")
        host_ip = pieces[0] if len(pieces) == 3 else ""
        result.append((host_ip, pieces[-1], protocol or "tcp"))
    return result


def filled_env() -> dict[str, str]:
    env = env_example()
    for name, value in list(env.items()):
        if value == "":
            env[name] = {"FSAPP_EXTERNAL_IP": "203.0.113.7", "FSAPP_SIP_DOMAIN": "203.0.113.7",
                         "FSAPP_TRUNK_REALM": "198.51.100.1", "FSAPP_TRUNK_PROXY": "198.51.100.1",
                         "FSAPP_TRUNK_CIDR": "198.51.100.0/28"}.get(name, "0123456789abcdef")
    return env


# --- services and networking --------------------------------------------------------------------

def test_the_four_services():
    assert set(SERVICES) == {"freeswitch", "fsapp", "jobs", "postgres"}
    assert SERVICES["postgres"]["image"] == "postgres:16"
    assert SERVICES["freeswitch"]["image"].startswith("${FREESWITCH_IMAGE:-")
    assert interpolate(SERVICES["freeswitch"]["image"], {}) == env_example()["FREESWITCH_IMAGE"]
    assert interpolate(SERVICES["freeswitch"]["image"], {"FREESWITCH_IMAGE": "my/fs:1"}) == "my/fs:1"
    for name in ("fsapp", "jobs"):
        assert SERVICES[name]["build"] == "." and SERVICES[name]["image"] == SERVICES["fsapp"]["image"]
    assert SERVICES["fsapp"]["command"][0] == "serve"
    assert SERVICES["jobs"]["command"] == ["jobs"]


def test_freeswitch_reaches_the_socket_server_and_only_over_loopback():
    fsapp, freeswitch = SERVICES["fsapp"], SERVICES["freeswitch"]
    assert fsapp["network_mode"] == "service:freeswitch"
    command = fsapp["command"]
    esl_listen = command[command.index("--esl") + 1]
    assert freeswitch["environment"]["FSAPP_ESL_ADDRESS"] == esl_listen
    host, _, port = esl_listen.rpartition(":")
    assert port == "8084"
    peers = [ipaddress.ip_network(p) for p in fsapp["environment"]["FSAPP_ESL_ALLOWED_PEERS"].split(",")]
    assert any(ipaddress.ip_address(host) in net for net in peers)
    # FreeSWITCH's inbound Event Socket stays loopback-only, which is why the app shares its namespace
    event_socket = (REPO / "freeswitch-conf/autoload_configs/event_socket.conf.xml").read_text()
    assert '<param name="listen-ip" value="127.0.0.1"/>' in event_socket


def test_published_ports_are_host_local_except_sip_and_rtp():
    for name, service in SERVICES.items():
        for host_ip, container, protocol in published_ports(service):
            if host_ip == "127.0.0.1":
                continue
            assert name == "freeswitch", f"{name} publishes {container}/{protocol} on every interface"
            if container in ("5060", "5080"):
                continue
            start, _, end = container.partition("-")
            assert protocol == "udp" and 1024 < int(start) <= int(end), f"{container}/{protocol} is not RTP"
    assert "ports" not in SERVICES["fsapp"]  # a service in another's namespace cannot publish
    assert ("127.0.0.1", "8080", "tcp") in published_ports(SERVICES["freeswitch"])
    assert not SERVICES["postgres"].get("ports")


def test_rtp_range_published_is_the_one_freeswitch_uses():
    env = SERVICES["freeswitch"]["environment"]
    start = interpolate(env["FSAPP_RTP_START_PORT"], {})
    end = interpolate(env["FSAPP_RTP_END_PORT"], {})
    rtp = [c for _, c, p in published_ports(SERVICES["freeswitch"]) if p == "udp" and "-" in c]
    assert rtp == [f"{start}-{end}"]
    custom = {"FSAPP_RTP_START_PORT": "20000", "FSAPP_RTP_END_PORT": "20999"}
    specs = [interpolate(str(s), custom) for s in SERVICES["freeswitch"]["ports"]]
    assert "20000-20999:20000-20999/udp" in specs


# --- health checks ------------------------------------------------------------------------------

def test_every_service_has_a_health_check():
    for name, service in SERVICES.items():
        check = service.get("healthcheck", {})
        assert check.get("test"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL")
    assert "http://127.0.0.1:8080/healthz" in SERVICES["fsapp"]["healthcheck"]["test"]
    assert "pg_isready" in SERVICES["postgres"]["healthcheck"]["test"][1]
    assert "heartbeat" in SERVICES["jobs"]["healthcheck"]["test"]
    assert "fs_cli" in SERVICES["freeswitch"]["healthcheck"]["test"][1]


def test_startup_order_waits_for_what_each_service_needs():
    assert SERVICES["fsapp"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["jobs"]["depends_on"]["fsapp"]["condition"] == "service_healthy"


def test_stop_grace_period_covers_the_drain():
    grace = SERVICES["fsapp"]["stop_grace_period"]
    assert grace.endswith("s") and int(grace[:-1]) > SETTINGS_BY_KEY["esl_drain_timeout_s"].default


# --- volumes and host paths ---------------------------------------------------------------------

def mounts(service: dict) -> dict[str, str]:
    """container path -> source (named volume or ./host/path), options dropped."""
    found = {}
    for spec in service.get("volumes", []):
        source, target = spec.split(":")[:2]
        found[target] = source
    return found


def test_named_volumes_are_declared_and_shared_at_the_same_paths():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for target, source in mounts(service).items():
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} mounts undeclared volume {source}"
    fs, app, jobs = (mounts(SERVICES[n]) for n in ("freeswitch", "fsapp", "jobs"))
    for volume in ("prompts", "recordings", "cdr"):
        path = f"/var/lib/fsapp/{volume}"
        assert fs[path] == app[path] == volume
    assert jobs["/var/lib/fsapp/recordings"] == "recordings" and jobs["/var/lib/fsapp/cdr"] == "cdr"
    assert mounts(SERVICES["postgres"])["/var/lib/postgresql/data"] == "pgdata"


def test_shared_directories_match_freeswitch_config_and_app_settings():
    """FreeSWITCH (vars.xml defaults and the env given to it) and the app agree on the paths."""
    vars_xml = (REPO / "freeswitch-conf/vars.xml").read_text()
    settings = load_settings(interpolate(SERVICES["fsapp"]["environment"], filled_env()))
    for key in ("prompt_dir", "recording_dir", "cdr_dir"):
        default = re.search(rf'cmd="set" data="fsapp_{key}=([^"]+)"', vars_xml).group(1)
        assert SERVICES["freeswitch"]["environment"][f"FSAPP_{key.upper()}"] == default
        assert str(getattr(settings, key)) == default
        assert mounts(SERVICES["freeswitch"])[default] == mounts(SERVICES["fsapp"])[default]


def test_host_paths_exist_and_the_whole_configuration_is_mounted_read_only():
    fs_mounts = mounts(SERVICES["freeswitch"])
    for name, service in SERVICES.items():
        for spec in service.get("volumes", []):
            source = spec.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts missing {source}"
                assert spec.endswith(":ro"), f"{spec} should be read-only"
    mounted = {source for source in fs_mounts.values() if source.startswith("./freeswitch-conf/")}
    expected = {f"./freeswitch-conf/{entry.name}" for entry in (REPO / "freeswitch-conf").iterdir()}
    assert mounted == expected, "every entry of freeswitch-conf/ must be mounted"
    for source in mounted:
        assert fs_mounts[f"/etc/freeswitch/{source.split('/', 2)[2]}"] == source
    assert fs_mounts["/etc/freeswitch/dialplan"] == "./dialplan"


# --- secrets and .env.example -------------------------------------------------------------------

def test_no_secret_is_written_in_the_compose_file():
    for name, service in SERVICES.items():
        for key, value in service.get("environment", {}).items():
            if SECRET_NAME.search(key):
                assert re.fullmatch(rf"\$\{{{key}:\?[^}}]+\}}", str(value)), f"{name}.{key} = {value!r}"
    url = SERVICES["fsapp"]["environment"]["FSAPP_DATABASE_URL"]
    assert re.fullmatch(r"postgresql://fsapp:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/fsapp", url)
    # credentials in any URL come from a variable
    for match in re.finditer(r"://[^:/@\s]+:([^@\s]+)@", COMPOSE_TEXT):
        assert match.group(1).startswith("${"), match.group(0)
    assert "$$FSAPP_ESL_PASSWORD" in SERVICES["freeswitch"]["healthcheck"]["test"][1]


def test_env_example_lists_every_variable_and_leaves_secrets_empty():
    example = env_example()
    used = set()

    def collect(value):
        if isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)
        elif isinstance(value, str):
            used.update(m.group(1) for m in VARIABLE.finditer(value.replace("$$", "")))

    collect(COMPOSE)
    assert used == set(example), f"only in compose: {used - set(example)}; only in .env.example: {set(example) - used}"
    for name, value in example.items():
        if SECRET_NAME.search(name):
            assert value == "", f"{name} has a value in .env.example"
    for name in ("FREESWITCH_IMAGE", "FSAPP_ESL_PASSWORD", "POSTGRES_PASSWORD", "FSAPP_SECRET_KEY",
                 "FSAPP_TRUNK_USERNAME", "FSAPP_TRUNK_PASSWORD", "FSAPP_AGENT_PASSWORD"):
        assert name in example


def test_compose_refuses_to_start_with_the_example_as_is_and_accepts_it_filled():
    with pytest.raises(MissingVariable):
        interpolate(COMPOSE, env_example())
    resolved = interpolate(COMPOSE, filled_env())
    app_env = resolved["services"]["fsapp"]["environment"]
    # the app environment passes the app's own settings validation
    settings = load_settings({k: str(v) for k, v in app_env.items()})
    assert settings.database_url == "postgresql://fsapp:0123456789abcdef@postgres:5432/fsapp"
    assert settings.secret_key == "0123456789abcdef"
    assert settings.esl_allowed_peers == ("127.0.0.1/32",)
    load_settings({k: str(v) for k, v in resolved["services"]["jobs"]["environment"].items()})
    assert resolved["services"]["freeswitch"]["environment"]["FSAPP_TRUNK_PASSWORD"] == "0123456789abcdef"


def test_env_file_is_not_shipped_in_the_image():
    ignored = (REPO / ".dockerignore").read_text().splitlines()
    assert ".env" in ignored and ".git" in ignored and ".venv" in ignored


# --- Dockerfile ----------------------------------------------------------------------------------

def dockerfile() -> list[str]:
    """Instructions with line continuations joined."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_dockerfile_base_packages_and_user():
    lines = dockerfile()
    assert lines[0] == "FROM python:3.11-slim"
    apt = next(line for line in lines if "apt-get install" in line)
    assert "espeak-ng" in apt.split() and "sox" in apt.split()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("RUN pip install .") for line in lines)


def test_dockerfile_copy_sources_exist_and_are_not_ignored():
    ignored = {line.strip().rstrip("/") for line in (REPO / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    copies = [line.split()[1:-1] for line in dockerfile() if line.startswith("COPY ")]
    assert copies
    for sources in copies:
        for source in sources:
            assert not source.startswith("--")
            assert (REPO / source).exists(), f"COPY source {source} is missing"
            top = source.split("/")[0]
            assert top not in ignored and source not in ignored, f"{source} is excluded by .dockerignore"


def test_entrypoint_and_healthcheck_paths_in_compose_exist_in_the_image():
    lines = dockerfile()
    entrypoint = next(line for line in lines if line.startswith("ENTRYPOINT"))
    assert '"/opt/fsapp/docker/entrypoint.sh"' in entrypoint
    copied = next(line for line in lines if line.startswith("COPY docker/"))
    for script in ("entrypoint.sh", "jobs-loop.sh", "healthcheck.py"):
        assert f"docker/{script}" in copied
    for name in ("fsapp", "jobs"):
        test = SERVICES[name]["healthcheck"]["test"]
        assert "/opt/fsapp/docker/healthcheck.py" in test
