"""The FreeSWITCH configuration (freeswitch-conf/) and dialplan (dialplan/) as FreeSWITCH reads them.

FreeSWITCH does not parse these files one by one: its preprocessor reads freeswitch.xml line by
line, expands $${vars}, runs set/env-set/exec-set commands and splices included files in, then
parses the result as one XML document. ``assemble`` below does the same (rules taken from
switch_xml.c: include globs are relative to the including file's directory, lines holding an
include tag or an XML declaration are dropped, env-set leaves a variable alone when the
environment variable is unset), so the assertions are about the configuration FreeSWITCH would
actually load, with and without the FSAPP_* environment.
"""
from __future__ import annotations

import glob
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "freeswitch-conf"
DIALPLAN = REPO / "dialplan"
DOC = REPO / "docs" / "freeswitch.md"

# Variables FreeSWITCH computes itself before reading vars.xml.
BUILTIN_VARS = {
    "local_ip_v4": "192.0.2.10", "local_mask_v4": "255.255.255.0", "local_ip_v6": "::1",
    "hostname": "fs1", "base_dir": "/usr", "conf_dir": "/etc/freeswitch",
    "log_dir": "/var/log/freeswitch", "sounds_dir": "/usr/share/freeswitch/sounds",
    "recordings_dir": "/var/lib/freeswitch/recordings", "storage_dir": "/var/lib/freeswitch/storage",
}
EXEC_SET_OUTPUT = "exec-set-output-0123456789abcdef"
PREPROCESS = re.compile(r'<X-PRE-PROCESS\s+cmd="([^"]*)"\s+data="([^"]*)"\s*/>', re.IGNORECASE)
VAR_REF = re.compile(r"\$\$\{([^}]*)\}")


class Assembly:
    def __init__(self, env: dict[str, str]):
        self.env = env
        self.vars = dict(BUILTIN_VARS)
        self.included: list[Path] = []
        self.errors: list[str] = []
        self.exec_set: list[str] = []

    def expand(self, line: str, where: str) -> str:
        def value(match: re.Match) -> str:
            name = match.group(1)
            if name not in self.vars:
                self.errors.append(f"{where}: $${{{name}}} is not defined before use")
                return ""
            return self.vars[name]
        return VAR_REF.sub(value, line)

    def run(self, path: Path, out: list[str], depth: int = 0) -> None:
        assert depth < 20, "include recursion"
        path = path.resolve()
        self.included.append(path)
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.parent.name}/{path.name}:{number}"
            line = self.expand(raw, where)
            if "<include>" in raw or "</include>" in raw or "<?" in raw:
                continue
            if "x-pre-process" not in line.lower():
                out.append(line)
                continue
            match = PREPROCESS.search(line)
            if not match or "<!--" in line[: match.start()]:
                self.errors.append(f"{where}: preprocessor command FreeSWITCH would misread: {raw.strip()}")
                continue
            cmd, data = match.group(1).lower(), match.group(2)
            if cmd == "include":
                pattern = data if data.startswith("/") else str(path.parent / data)
                matches = sorted(glob.glob(pattern))
                if not matches:
                    self.errors.append(f"{where}: include {data!r} matches no file")
                for included in matches:
                    self.run(Path(included), out, depth + 1)
            elif cmd in ("set", "env-set", "exec-set"):
                name, _, val = data.partition("=")
                name, val = name.strip(), val.strip()
                if cmd == "set":
                    self.vars[name] = val
                elif cmd == "env-set":
                    assert val.startswith("$"), f"{where}: env-set needs $ENV_NAME"
                    if val[1:] in self.env:
                        self.vars[name] = self.env[val[1:]]
                else:
                    self.exec_set.append(val)
                    self.vars[name] = EXEC_SET_OUTPUT
            else:
                self.errors.append(f"{where}: unexpected preprocessor command {cmd!r}")


def deploy(tmp_path: Path) -> Path:
    """Lay the files out as in production: the conf dir with dialplan/ inside it."""
    root = tmp_path / "etc-freeswitch"
    shutil.copytree(CONF, root)
    assert not (root / "dialplan").exists(), "freeswitch-conf/ must not carry its own dialplan/"
    shutil.copytree(DIALPLAN, root / "dialplan")
    return root


def assemble(tmp_path: Path, env: dict[str, str] | None = None) -> tuple[ET.Element, Assembly]:
    root = deploy(tmp_path)
    assembly = Assembly(env or {})
    out: list[str] = []
    assembly.run(root / "freeswitch.xml", out)
    assert assembly.errors == []
    return ET.fromstring("\n".join(out)), assembly


def conf_section(doc: ET.Element, name: str) -> ET.Element:
    found = doc.find(f"./section[@name='configuration']/configuration[@name='{name}']")
    assert found is not None, f"configuration {name} missing"
    return found


def params(node: ET.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in node.findall("param")}


def profile(doc: ET.Element, name: str) -> ET.Element:
    found = conf_section(doc, "sofia.conf").find(f"./profiles/profile[@name='{name}']")
    assert found is not None, f"sofia profile {name} missing"
    return found


def context(doc: ET.Element, name: str) -> ET.Element:
    found = doc.find(f"./section[@name='dialplan']/context[@name='{name}']")
    assert found is not None, f"dialplan context {name} missing"
    return found


def route(ctx: ET.Element, destination: str) -> list[tuple[str, str]]:
    """The actions the XML dialplan queues for a destination number (continue="true" honoured)."""
    actions: list[tuple[str, str]] = []
    for extension in ctx.findall("extension"):
        conditions = extension.findall("condition")
        if conditions and all(re.search(c.get("expression"), destination)
                              for c in conditions if c.get("field") == "destination_number"):
            for condition in conditions:
                actions += [(a.get("application"), a.get("data")) for a in condition.findall("action")]
            if extension.get("continue") != "true":
                break
    return actions


ALL_XML = sorted(CONF.rglob("*.xml")) + sorted(DIALPLAN.rglob("*.xml"))


def test_there_is_a_configuration_to_check():
    names = {p.relative_to(REPO).as_posix() for p in ALL_XML}
    for required in ("freeswitch-conf/freeswitch.xml", "freeswitch-conf/vars.xml",
                     "freeswitch-conf/autoload_configs/modules.conf.xml",
                     "freeswitch-conf/autoload_configs/event_socket.conf.xml",
                     "freeswitch-conf/autoload_configs/sofia.conf.xml",
                     "freeswitch-conf/autoload_configs/json_cdr.conf.xml",
                     "freeswitch-conf/sip_profiles/external/trunk.xml",
                     "dialplan/fsapp_agents.xml", "dialplan/public.xml"):
        assert required in names


@pytest.mark.parametrize("path", ALL_XML, ids=lambda p: p.relative_to(REPO).as_posix())
def test_each_file_is_well_formed_xml(path):
    ET.parse(path)


def test_the_assembled_configuration_is_one_well_formed_document(tmp_path):
    doc, assembly = assemble(tmp_path)
    assert doc.tag == "document"
    deployed = {p.resolve() for p in (tmp_path / "etc-freeswitch").rglob("*.xml")}
    # Every file shipped is actually read by FreeSWITCH: nothing is dead or mis-placed.
    assert set(assembly.included) == deployed
    for section in ("configuration", "dialplan", "directory"):
        assert doc.find(f"./section[@name='{section}']") is not None


def test_no_default_password_and_no_stun_anywhere():
    texts = {p: p.read_text(encoding="utf-8") for p in ALL_XML}
    texts[DOC] = DOC.read_text(encoding="utf-8")
    for path, text in texts.items():
        assert "cluecon" not in text.lower(), path
        assert "stun:" not in text.lower() and "stun-set" not in text.lower(), path
        assert "default_password" not in text, path
        assert "auto-nat" not in text, path
        # the only URL is the app's SIP directory, at the configured (loopback by default) address
        assert not re.search(r"https?://(?!\$\$\{fsapp_directory_address\}/)", text), f"{path} names an outside URL"


def test_every_referenced_variable_is_defined_and_secrets_are_never_fixed(tmp_path):
    doc, assembly = assemble(tmp_path)  # assemble() fails on any undefined $${var}
    # Without the environment, secrets are random (exec-set), never a constant from the repo.
    assert assembly.vars["fsapp_esl_password"] == EXEC_SET_OUTPUT
    assert assembly.vars["fsapp_agent_password"] == EXEC_SET_OUTPUT
    assert assembly.vars["fsapp_trunk_password"] == EXEC_SET_OUTPUT
    assert assembly.vars["fsapp_directory_secret"] == EXEC_SET_OUTPUT
    for command in assembly.exec_set:
        assert "/dev/urandom" in command
    vars_xml = (CONF / "vars.xml").read_text(encoding="utf-8")
    for secret in ("fsapp_esl_password", "fsapp_agent_password", "fsapp_trunk_password", "fsapp_directory_secret"):
        assert not re.search(rf'cmd="set" data="{secret}=', vars_xml)


def test_event_socket_listens_on_loopback_with_the_password_from_the_environment(tmp_path):
    doc, _ = assemble(tmp_path, {"FSAPP_ESL_PASSWORD": "s3cret-from-env"})
    settings = params(conf_section(doc, "event_socket.conf").find("settings"))
    assert settings["listen-ip"] in ("127.0.0.1", "::1")
    assert settings["password"] == "s3cret-from-env"
    assert settings["apply-inbound-acl"] == "loopback.auto"
    doc, _ = assemble(tmp_path / "noenv")
    assert params(conf_section(doc, "event_socket.conf").find("settings"))["password"] == EXEC_SET_OUTPUT


def test_agent_calls_are_handed_to_the_app_socket_async_full_with_nothing_before_it(tmp_path):
    doc, _ = assemble(tmp_path)
    agents = context(doc, "fsapp_agents")
    # every application before the socket is post-dial delay: the app reads what it needs from
    # the channel data (sip_h_X-Campaign, the SIP authentication, the dialled number)
    assert route(agents, "13800138000") == [("socket", "127.0.0.1:8084 async full")]


def test_the_socket_address_comes_from_the_environment(tmp_path):
    doc, _ = assemble(tmp_path, {"FSAPP_ESL_ADDRESS": "10.1.2.3:9084"})
    assert route(context(doc, "fsapp_agents"), "13800138000")[-1] == ("socket", "10.1.2.3:9084 async full")
    assert route(context(doc, "public"), "+8675512345678")[-1] == ("socket", "10.1.2.3:9084 async full")


@pytest.mark.parametrize("code", ["110", "119", "120", "122"])
def test_emergency_codes_go_through_the_app(tmp_path, code):
    doc, _ = assemble(tmp_path)
    # the app knows them by the dialled number (A5) and records them like any call
    assert route(context(doc, "fsapp_agents"), code) == [("socket", "127.0.0.1:8084 async full")]


def test_inbound_calls_to_any_number_go_to_the_app_as_inbound(tmp_path):
    doc, _ = assemble(tmp_path)
    for destination in ("+8675512345678", "075512345678", "1001"):
        actions = route(context(doc, "public"), destination)
        assert ("set", "fsapp_direction=inbound") in actions
        assert actions[-1] == ("socket", "127.0.0.1:8084 async full")


def test_json_cdr_writes_one_plain_file_per_leg_into_the_cdr_dir(tmp_path):
    doc, _ = assemble(tmp_path)
    settings = params(conf_section(doc, "json_cdr.conf").find("settings"))
    assert settings["log-b-leg"] == "true"        # the callee legs the app originates
    assert settings["prefix-a-leg"] == "false"    # files are <uuid>.cdr.json for both legs
    assert settings["encode-values"] == "true"    # reconciliation URL-decodes "variables"
    assert settings["rotate"] == "false"          # no dated sub-directories
    assert settings["log-dir"] == "/var/lib/fsapp/cdr"
    assert not settings.get("url")                # nothing is posted anywhere
    doc, _ = assemble(tmp_path / "env", {"FSAPP_CDR_DIR": "/srv/cdr"})
    assert params(conf_section(doc, "json_cdr.conf").find("settings"))["log-dir"] == "/srv/cdr"


def test_directories_match_the_app_settings_for_the_same_data_dir(tmp_path):
    from fs_app.config import load_settings

    _, assembly = assemble(tmp_path)
    settings = load_settings({"FSAPP_DATA_DIR": "/var/lib/fsapp"})
    assert assembly.vars["fsapp_prompt_dir"] == str(settings.prompt_dir)
    assert assembly.vars["fsapp_recording_dir"] == str(settings.recording_dir)
    assert assembly.vars["fsapp_cdr_dir"] == str(settings.cdr_dir)
    # The same FSAPP_* names move both sides together.
    env = {"FSAPP_PROMPT_DIR": "/data/p", "FSAPP_RECORDING_DIR": "/data/r", "FSAPP_CDR_DIR": "/data/c"}
    _, assembly = assemble(tmp_path / "env", env)
    settings = load_settings(env)
    assert (assembly.vars["fsapp_prompt_dir"], assembly.vars["fsapp_recording_dir"], assembly.vars["fsapp_cdr_dir"]) \
        == (str(settings.prompt_dir), str(settings.recording_dir), str(settings.cdr_dir))


def test_modules_are_the_minimal_set(tmp_path):
    doc, _ = assemble(tmp_path)
    loaded = [m.get("module") for m in conf_section(doc, "modules.conf").iter("load")]
    required = {"mod_console", "mod_logfile", "mod_event_socket", "mod_sofia", "mod_commands",
                "mod_dptools", "mod_dialplan_xml", "mod_sndfile", "mod_native_file",
                "mod_tone_stream", "mod_json_cdr"}
    assert required <= set(loaded)
    assert len(loaded) == len(set(loaded))
    for unwanted in ("mod_spandsp", "mod_signalwire", "mod_verto", "mod_enum"):
        assert unwanted not in loaded
    # the directory comes from the app: mod_xml_curl is up before sofia asks for the first user
    assert loaded.index("mod_xml_curl") < loaded.index("mod_sofia")


def test_agents_must_authenticate_and_the_trunk_is_restricted(tmp_path):
    doc, _ = assemble(tmp_path)
    internal = params(profile(doc, "internal").find("settings"))
    assert internal["auth-calls"] == "true"
    assert internal["context"] == "fsapp_agents"
    assert internal["accept-blind-reg"] == "false" and internal["accept-blind-auth"] == "false"
    # An ACL match would admit calls/registrations without a password.
    assert "apply-inbound-acl" not in internal and "apply-register-acl" not in internal
    external = params(profile(doc, "external").find("settings"))
    assert external["context"] == "public"
    lists = {node.get("name") for node in conf_section(doc, "acl.conf").iter("list")}
    assert external["apply-inbound-acl"] in lists
    assert internal["local-network-acl"] in lists
    for settings in (internal, external):
        assert not settings["ext-rtp-ip"].lower().startswith(("stun", "auto"))
        assert not settings["ext-sip-ip"].lower().startswith(("stun", "auto"))


def test_acl_lists_take_the_configured_networks(tmp_path):
    doc, _ = assemble(tmp_path, {"FSAPP_AGENT_CIDR": "10.20.0.0/16", "FSAPP_TRUNK_CIDR": "203.0.113.8/29"})
    acl = conf_section(doc, "acl.conf")
    agents = {n.get("cidr") for n in acl.find("./network-lists/list[@name='fsapp_agents']")}
    trunk = {n.get("cidr") for n in acl.find("./network-lists/list[@name='fsapp_trunk']")}
    assert agents == {"127.0.0.0/8", "10.20.0.0/16"}
    assert trunk == {"127.0.0.0/8", "203.0.113.8/29"}
    for lst in acl.iter("list"):
        assert lst.get("default") == "deny"


def test_trunk_gateway_credentials_come_from_the_environment(tmp_path):
    env = {"FSAPP_TRUNK_REALM": "sip.carrier.example", "FSAPP_TRUNK_USERNAME": "acct42",
           "FSAPP_TRUNK_PASSWORD": "pw-from-env", "FSAPP_TRUNK_REGISTER": "true"}
    doc, _ = assemble(tmp_path, env)
    gateway = profile(doc, "external").find("./gateways/gateway[@name='trunk']")
    assert gateway is not None
    values = params(gateway)
    assert values["realm"] == "sip.carrier.example"
    assert values["proxy"] == "sip.carrier.example"
    assert values["username"] == "acct42"
    assert values["password"] == "pw-from-env"
    assert values["register"] == "true"
    assert values["caller-id-in-from"] == "true"
    from fs_app.config import load_settings
    assert load_settings({}).gateway == "trunk"  # the app's dial string names this gateway


def test_the_static_fallback_directory_has_one_account_from_the_environment(tmp_path):
    env = {"FSAPP_SIP_DOMAIN": "pbx.example", "FSAPP_AGENT_USER": "2001", "FSAPP_AGENT_PASSWORD": "agent-pw"}
    doc, _ = assemble(tmp_path, env)
    domain = doc.find("./section[@name='directory']/domain[@name='pbx.example']")
    assert domain is not None
    assert [u.get("id") for u in doc.iter("user")] == ["2001"]  # seats are not in files any more
    user = domain.find(".//user[@id='2001']")
    assert params(user.find("params"))["password"] == "agent-pw"
    variables = {v.get("name"): v.get("value") for v in domain.iter("variable")}
    assert variables["user_context"] == "fsapp_agents"
    internal = params(profile(doc, "internal").find("settings"))
    # every tenant registers to its own domain, which is also the digest realm of its a1-hashes
    assert internal["challenge-realm"] == "auto_from"
    for forced in ("force-register-domain", "force-register-db-domain", "force-subscription-domain"):
        assert forced not in internal


def test_the_directory_binding_asks_the_app_with_the_shared_secret(tmp_path):
    from fs_app.config import load_settings
    from fs_app.directory.app import LOOKUP_DEADLINE_S, PATH

    env = {"FSAPP_DIRECTORY_SECRET": "s3cret-from-env", "FSAPP_DIRECTORY_ADDRESS": "10.0.0.5:9088"}
    doc, _ = assemble(tmp_path, env)
    bindings = conf_section(doc, "xml_curl.conf").findall("./bindings/binding")
    assert len(bindings) == 1
    binding = {p.get("name"): p for p in bindings[0].findall("param")}
    url = binding["gateway-url"]
    assert url.get("value") == f"http://10.0.0.5:9088{PATH}"
    assert url.get("bindings") == "directory"  # only the directory: configuration and dialplan stay in files
    assert binding["gateway-credentials"].get("value").split(":", 1)[1] == "s3cret-from-env"
    assert binding["auth-scheme"].get("value") == "basic"
    assert float(binding["timeout"].get("value")) > LOOKUP_DEADLINE_S  # the app answers (or 503s) first
    # without the environment: the app's defaults on both sides, and a random secret
    doc, assembly = assemble(tmp_path / "noenv")
    binding = {p.get("name"): p.get("value") for p in conf_section(doc, "xml_curl.conf").iter("param")}
    defaults = load_settings({})
    assert binding["gateway-url"] == "http://{}:{}{}".format(*defaults.directory_listen, PATH)
    assert binding["gateway-credentials"].endswith(":" + EXEC_SET_OUTPUT)
    # the same variable drives the app's setting
    assert load_settings(env).directory_secret == "s3cret-from-env"


def test_vars_xml_reads_the_environment_the_documented_way():
    text = (CONF / "vars.xml").read_text(encoding="utf-8")
    env_sets = re.findall(r'cmd="env-set" data="([a-z_0-9]+)=\$([A-Z_0-9]+)"', text)
    assert len(env_sets) >= 15
    doc = DOC.read_text(encoding="utf-8")
    for _, env_name in env_sets:
        assert env_name in doc, f"{env_name} is read by vars.xml but not documented"
