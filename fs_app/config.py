"""Configuration: one home for every setting (ARCHITECTURE principle 7).

Every limit of RULEBOOK.md is a setting here with the rulebook's default. Values are layered:
built-in default < TOML file (path in ``FSAPP_CONFIG``) < ``FSAPP_<KEY>`` environment variables.
Each setting knows how to parse itself from a TOML value or an environment string, so an
invalid value is refused at start with a message that names the key and where it came from.
"""
from __future__ import annotations

import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from domain.bounds import BILLING_INCREMENT_S, DAYS, Bound
from domain.sip_credentials import DEFAULT_SIP_BASE_DOMAIN, check_domain
from domain.windows import format_windows, parse_windows

ENV_PREFIX = "FSAPP_"


class ConfigError(ValueError):
    """A setting has an invalid value; the message names the key and its source."""


# ---------------------------------------------------------------------------------------------
# Value types. Each parser takes a TOML value (typed) or an environment string and returns the
# canonical value, raising ValueError with a short reason.


def _integer(minimum: int | None = None, maximum: int | None = None) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        if isinstance(raw, bool):
            raise ValueError("expected an integer, got a boolean")
        if isinstance(raw, str):
            try:
                raw = int(raw.strip(), 10)
            except ValueError:
                raise ValueError(f"expected an integer, got {raw!r}") from None
        if not isinstance(raw, int):
            raise ValueError(f"expected an integer, got {raw!r}")
        if minimum is not None and raw < minimum:
            raise ValueError(f"must be >= {minimum}, got {raw}")
        if maximum is not None and raw > maximum:
            raise ValueError(f"must be <= {maximum}, got {raw}")
        return raw

    return parse


def _within(bound: Bound) -> Callable[[Any], int]:
    """An integer inside one of the product's input bounds (domain.bounds), as the CLI takes it."""
    return _integer(bound.low, bound.high)


def _number(minimum: float = 0.0) -> Callable[[Any], float]:
    def parse(raw: Any) -> float:
        if isinstance(raw, bool):
            raise ValueError("expected a number, got a boolean")
        try:
            value = float(raw.strip()) if isinstance(raw, str) else float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {raw!r}") from None
        if value < minimum:
            raise ValueError(f"must be >= {minimum}, got {value}")
        return value

    return parse


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _boolean(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"expected true/false, got {raw!r}")


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    return raw


def _choice(*options: str) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        value = _text(raw).strip()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {value!r}")
        return value

    return parse


def _string_list(raw: Any) -> tuple[str, ...]:
    """A list from TOML, or a comma-separated / JSON list string from the environment."""
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"invalid JSON list: {exc.msg}") from None
        else:
            raw = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(raw, (list, tuple)) or not all(isinstance(x, str) for x in raw):
        raise ValueError(f"expected a list of strings, got {raw!r}")
    return tuple(x.strip() for x in raw)


def _path(raw: Any) -> Path:
    value = _text(raw).strip()
    if not value:
        raise ValueError("must not be empty")
    return Path(value).expanduser()


def _optional_path(raw: Any) -> Path | None:
    value = _text(raw).strip()
    return Path(value).expanduser() if value else None


def _host_port(raw: Any) -> tuple[str, int]:
    value = _text(raw).strip()
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    host = host.strip("[]")
    port_number = _integer(0, 65535)(port)
    return host, port_number


def _networks(raw: Any) -> tuple[str, ...]:
    items = _string_list(raw)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
    return items


def _provinces(raw: Any) -> tuple[str, ...]:
    """Province names in any common form ("新疆", "广东省"), stored as the official names that
    number geography produces, so the A16 comparison cannot miss on spelling."""
    from domain.numbers import canonical_province

    result = []
    for name in _string_list(raw):
        official = canonical_province(name)
        if official is None:
            raise ValueError(f"{name!r} is not a province of China")
        result.append(official)
    return tuple(result)


def _keyword_categories(raw: Any) -> dict[str, tuple[str, ...]]:
    """Script screening categories: {category: [terms]} from a TOML table or a JSON string."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON object: {exc.msg}") from None
    if not isinstance(raw, dict):
        raise ValueError("expected a table of category = [terms]")
    result = {}
    for category, terms in raw.items():
        parsed = _string_list(terms)
        if any(not t for t in parsed):
            raise ValueError(f"category {category!r} has an empty term")
        result[str(category)] = parsed
    return result


# ---------------------------------------------------------------------------------------------
# The settings.


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    rule: str = ""
    show: Callable[[Any], str] | None = None

    def display(self, value: Any) -> str:
        if self.show is not None:
            return self.show(value)
        if isinstance(value, tuple):
            return ",".join(str(v) for v in value)
        if isinstance(value, dict):
            return json.dumps({k: list(v) for k, v in value.items()}, ensure_ascii=False)
        if isinstance(value, bool):
            return "true" if value else "false"
        if value is None:
            return ""
        return str(value)


RESTRICTED_INDUSTRIES = (
    "news", "publishing", "education", "healthcare", "drugs", "medical_devices", "real_estate",
    "home_decoration", "debt_collection", "loans", "wealth_management", "securities", "stocks",
)

DEFAULT_SCREENING_KEYWORDS = {
    # Prohibited content (TCCC 4.4, Xunzhong 4(6)): fraud, gambling, pornography, illegal goods.
    "prohibited": (
        "赌博", "博彩", "色情", "代开发票", "办证", "套现", "洗钱", "刷单", "枪支", "毒品", "中奖",
        "gambling", "casino", "porn", "fake invoice", "money laundering", "lottery win",
    ),
    # Restricted industries (RULEBOOK A12): need operator approval, so scripts about them are reviewed.
    "restricted_industry": (
        "贷款", "借款", "催收", "理财", "股票", "证券", "基金", "房产", "楼盘", "装修", "医疗", "药品",
        "医疗器械", "教育", "培训", "出版", "新闻",
        "loan", "debt collection", "wealth management", "stock", "securities", "real estate",
        "renovation", "medical", "pharmacy", "tuition",
    ),
}

SETTINGS: tuple[Setting, ...] = (
    # Where things live.
    Setting("data_dir", "var", _path, "directory for the SQLite database, prompts, recordings and CDRs"),
    Setting("database_url", "", _text, "empty = SQLite in data_dir; postgresql://user@host:port/db for several nodes"),
    Setting("db_pool_size", 20, _integer(1, 1000), "database connections per process for live calls (the calls pool)"),
    Setting("db_web_pool_size", 4, _integer(1, 1000),
            "database connections per process for the admin, CLI and jobs (the web pool; never the calls')"),
    Setting("admission_deadline_s", 2.0, _number(0.1),
            "seconds from the socket connect to an admission decision; past it POLICY_UNAVAILABLE (B6)"),
    Setting("db_call_timeout_s", 2.0, _number(0.05),
            "longest database wait of a live call's step after admission (metering, charge, queries)"),
    Setting("db_web_timeout_s", 10.0, _number(0.05),
            "longest wait of the admin, CLI and jobs for a connection or a lock (they yield meanwhile)"),
    Setting("db_web_statement_timeout_s", 300.0, _number(0.0),
            "PostgreSQL statement timeout of the web pool (0: none)"),
    Setting("prompt_dir", None, _optional_path, "prompt audio shared with FreeSWITCH (default data_dir/prompts)"),
    Setting("recording_dir", None, _optional_path, "call recordings (default data_dir/recordings)"),
    Setting("recording_format", "wav", _choice("wav", "mp3"), "recording file format"),
    Setting("cdr_dir", None, _optional_path, "FreeSWITCH JSON CDR directory (default data_dir/cdr)"),
    # Event Socket server.
    Setting("esl_listen", ("127.0.0.1", 8084), _host_port, "outbound Event Socket listen address",
            show=lambda v: f"{v[0]}:{v[1]}"),
    Setting("esl_max_live_calls", 2000, _integer(1), "live calls per process; over it new channels are hung up"),
    Setting("esl_allowed_peers", ("127.0.0.1/32", "::1/128"), _networks, "FreeSWITCH addresses allowed to connect"),
    Setting("esl_drain_timeout_s", 300, _integer(0), "seconds live calls may take to finish on SIGTERM"),
    Setting("esl_command_timeout_s", 10.0, _number(0.1), "longest wait for a FreeSWITCH reply"),
    Setting("esl_callee_address", "", _text,
            "HOST:PORT FreeSWITCH connects callee legs to (&socket in originate); empty = esl_listen"),
    Setting("http_listen", ("127.0.0.1", 8080), _host_port, "web admin listen address",
            show=lambda v: f"{v[0]}:{v[1]}"),
    Setting("node_name", "", _text, "name of this app process in holds and logs (default hostname:pid; "
            "each worker of --workers appends :pid)"),
    # The SIP directory FreeSWITCH reads over HTTP (mod_xml_curl; docs/freeswitch.md).
    Setting("directory_listen", ("127.0.0.1", 8088), _host_port,
            "listen address of the SIP directory for FreeSWITCH (loopback or the FreeSWITCH network only)",
            show=lambda v: f"{v[0]}:{v[1]}"),
    Setting("directory_allowed_peers", ("127.0.0.1/32", "::1/128"), _networks,
            "FreeSWITCH addresses allowed to ask the directory"),
    Setting("directory_secret", "", _text,
            "shared secret FreeSWITCH sends as HTTP basic auth password (xml_curl gateway-credentials); "
            "empty: every directory request is refused"),
    Setting("directory_cache_ms", 30000, _integer(0, 3_600_000),
            "how long FreeSWITCH may cache a directory answer (the user's cacheable attribute; 0: never)"),
    Setting("sip_base_domain", DEFAULT_SIP_BASE_DOMAIN, lambda raw: check_domain(_text(raw)),
            "default tenant SIP domains are <tenant code>.<sip_base_domain>"),
    Setting("sip_profile", "internal", _text, "the sofia profile agents register on"),
    # FreeSWITCH's inbound Event Socket (registrations, revoking credentials).
    Setting("inbound_esl_address", ("127.0.0.1", 8021), _host_port, "FreeSWITCH's inbound Event Socket",
            show=lambda v: f"{v[0]}:{v[1]}"),
    Setting("esl_password", "", _text, "password of FreeSWITCH's inbound Event Socket (same variable as FreeSWITCH's)"),
    Setting("inbound_esl_timeout_s", 1.0, _number(0.05), "longest wait for FreeSWITCH's inbound Event Socket, "
            "connect and each command"),
    # A4 identity.
    Setting("trust_sip_from_header", False, _boolean, "lab only: take the seat from sip_from_user/host when unauthenticated", "A4"),
    # A5 numbers.
    Setting("default_region", "CN", _text, "region for numbers dialled in national form", "A5"),
    Setting("emergency_numbers", ("110", "119", "120", "122"), _string_list, "short codes never blocked, never billed", "A5"),
    # A3 seats.
    Setting("seat_max_calls", 1, _integer(1), "live calls per seat", "A3"),
    # A6 do-not-call.
    Setting("dnc_expiry_days", 0, _integer(0), "0 = do-not-call entries never expire", "A6"),
    Setting("optout_to_platform_dnc", False, _boolean, "an opt-out also adds the number to the platform list", "B3"),
    # A7 consent.
    Setting("consent_required", True, _boolean, "prior consent record required before calling", "A7"),
    # A8 calling hours.
    Setting("calling_windows", ((9 * 60, 12 * 60), (14 * 60, 18 * 60)), parse_windows,
            "platform calling windows in the callee's local time", "A8", show=format_windows),
    Setting("block_statutory_holidays", False, _boolean, "no calls on Chinese statutory holidays", "A8"),
    Setting("block_weekends", False, _boolean, "no calls on Saturdays and Sundays (adjusted workdays allowed)", "A8"),
    # A9 frequency.
    Setting("freq_tenant_per_day", 2, _integer(1), "attempts per tenant per callee per calendar day", "A9"),
    Setting("freq_tenant_per_7_days", 5, _integer(1), "attempts per tenant per callee in 7 days", "A9"),
    Setting("freq_tenant_per_30_days", 10, _integer(1), "attempts per tenant per callee in 30 days", "A9"),
    Setting("freq_tenant_min_gap_minutes", 30, _integer(0), "minimum minutes between two attempts of a tenant", "A9"),
    Setting("freq_global_per_24_hours", 5, _integer(1), "attempts per callee across tenants in 24 hours", "A9"),
    Setting("freq_global_per_5_minutes", 3, _integer(1), "attempts per callee across tenants in 5 minutes", "A9"),
    # A10 caller ID.
    Setting("number_max_calls", 1, _integer(1), "default live calls per leased number", "A10"),
    Setting("caller_id_local_required", True, _boolean, "CN callees get a number of their own province", "A10"),
    # A11/A12 scripts and industries.
    Setting("screening_keywords", DEFAULT_SCREENING_KEYWORDS, _keyword_categories, "script screening categories", "A11"),
    Setting("script_auto_approve_clean", False, _boolean, "approve scripts without screening hits automatically", "A11"),
    Setting("restricted_industries", RESTRICTED_INDUSTRIES, _string_list, "industries that need operator approval", "A12"),
    # A13 balance.
    Setting("billing_increment_s", 60, _within(BILLING_INCREMENT_S), "default billing increment in seconds", "C1"),
    Setting("hold_lease_s", 90, _integer(10), "a hold or seat slot not heartbeated for this long expires", "A13"),
    Setting("hold_extend_interval_s", 30, _integer(5), "how often a live call extends its hold", "B5"),
    Setting("charge_retry_s", 3.5, _number(0.0), "seconds a failed hangup charge is retried (backoff) before the CDR job settles it", "C6"),
    # A15 complaints.
    Setting("complaint_ratio_per_1000", 1.0, _number(0.0), "complaints per 1,000 connected calls that ban outbound", "A15"),
    Setting("complaint_min_count", 3, _integer(1), "fewest complaints that can trigger the ban", "A15"),
    Setting("complaint_window_days", 7, _integer(1), "look-back for the complaint ratio", "A15"),
    Setting("complaint_answer_hours", 2, _integer(1), "hours a tenant has to answer a complaint", "D5"),
    # A16 regions.
    Setting("restricted_provinces", (), _provinces, "callee provinces never called (Chinese names, e.g. 广东省)", "A16"),
    # B prompts and the call.
    Setting("recording_consent_timeout_s", 5, _integer(1, 60), "seconds to press 1 or 2", "B2"),
    Setting("recording_consent_repeats", 1, _integer(0, 5), "repeats of the notice before silence counts as decline", "B2"),
    Setting("consent_agree_key", "1", _choice(*"0123456789*#"), "key that agrees to the recording", "B2"),
    Setting("consent_decline_key", "2", _choice(*"0123456789*#"), "key that declines the recording", "B2"),
    Setting("optout_key", "9", _choice(*"0123456789*#"), "key that puts the callee on the do-not-call list", "B3"),
    Setting("optout_window_s", 3, _integer(1, 60),
            "seconds the opt-out offer of an unrecorded call waits for the key (at most recording_consent_timeout_s)", "B3"),
    Setting("duration_warning_s", 30, _integer(0), "warning this many seconds before the duration limit", "B5"),
    Setting("dial_string", "sofia/gateway/{gateway}/{number}", _text, "callee dial string template", "B4"),
    Setting("gateway", "trunk", _text, "SIP gateway name used in dial_string"),
    Setting("originate_timeout_s", 30, _integer(1, 300), "seconds the callee may ring"),
    Setting("early_media_max_s", 180, _integer(10, 3600),
            "longest the agent's phone waits in early media (183) before the bridge answers it: SIP Timer C"),
    Setting("inbound_ring_timeout_s", 30, _integer(1, 300), "seconds an inbound call rings the tenant's seats"),
    Setting("prompt_upload_max_seconds", 30, _integer(1, 300), "longest tenant-uploaded prompt", "B7"),
    # C money.
    Setting("seat_period_days", 30, _within(DAYS), "days one seat rent pays for", "C3"),
    Setting("number_period_days", 30, _within(DAYS), "days one number rent pays for", "C3"),
    # D data and people.
    Setting("number_retention_days", 30, _integer(1), "dialled numbers are masked after this many days", "D1"),
    Setting("recording_retention_days", 180, _integer(1), "recordings are deleted after this many days", "D1"),
    Setting("terminated_delete_days", 7, _integer(0), "a terminated tenant's data is deleted after this", "D2"),
    Setting("login_idle_disable_days", 365, _integer(1), "admin logins unused this long are disabled", "D4"),
    Setting("report_low_balance_days", 3, _integer(1, 365),
            "the reports flag a tenant whose balance lasts fewer days than this at its average daily spend"),
    Setting("admin_secure_cookies", False, _boolean, "mark admin session cookies Secure (set when HTTPS fronts the admin)"),
    Setting("admin_trusted_proxies", 0, _integer(0, 10),
            "reverse proxies in front of the admin whose X-Forwarded-For is believed (0 = none: the peer is the client)"),
    Setting("secret_key", "", _text, "web session signing key (required for `fsapp serve` on a network)"),
    Setting("log_format", "text", _choice("text", "json"), "log line format"),
    Setting("log_level", "INFO", _choice("DEBUG", "INFO", "WARNING", "ERROR"), "log level"),
)

SETTINGS_BY_KEY = {s.key: s for s in SETTINGS}


class Settings:
    """Effective configuration: attribute access plus where each value came from."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]):
        self._values = dict(values)
        self._sources = dict(sources)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(key) from None

    def source(self, key: str) -> str:
        return self._sources[key]

    def items(self) -> list[tuple[str, Any, str]]:
        return [(s.key, self._values[s.key], self._sources[s.key]) for s in SETTINGS]

    # The model layer takes plain values, never a Settings: these turn settings into its arguments.

    def database_options(self) -> dict[str, Any]:
        """Arguments of ``models.open_database``: where the database is, its pools' sizes and timeouts."""
        return dict(url=self.database_url, data_dir=self.data_dir, pool_size=self.db_pool_size,
                    web_pool_size=self.db_web_pool_size, call_timeout_s=self.db_call_timeout_s,
                    web_timeout_s=self.db_web_timeout_s, web_statement_timeout_s=self.db_web_statement_timeout_s)

    def complaint_guard_limits(self):
        """The complaint-ratio guard's limits (A15) as ``models.complaints`` takes them."""
        from models.complaints.complaints import GuardLimits

        return GuardLimits(self.complaint_ratio_per_1000, self.complaint_min_count, self.complaint_window_days)

    def replace(self, **overrides: Any) -> "Settings":
        """A copy with some values replaced (tests, CLI flags); values are parsed like the environment."""
        values, sources = dict(self._values), dict(self._sources)
        for key, raw in overrides.items():
            setting = SETTINGS_BY_KEY.get(key)
            if setting is None:
                raise ConfigError(f"unknown setting {key!r}")
            values[key] = _parse(setting, raw, "override")
            sources[key] = "override"
        _check_together(values, sources)
        _fill_derived(values)
        return Settings(values, sources)


def _parse(setting: Setting, raw: Any, origin: str) -> Any:
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ConfigError(f"invalid value for {setting.key} (from {origin}): {exc}") from None


def pre_bridge_budget_s(values: Mapping[str, Any]) -> int:
    """The longest the agent leg may stay in early media: the callee rings (originate_timeout_s),
    then hears the disclosure, the consent question with its repeats and timeouts, and the
    acknowledgement, each prompt at most prompt_upload_max_seconds long."""
    questions = 1 + values["recording_consent_repeats"]
    prompts = 2 + questions  # disclosure, the questions, connecting / consent_declined
    return (values["originate_timeout_s"] + prompts * values["prompt_upload_max_seconds"]
            + questions * values["recording_consent_timeout_s"])


def _check_together(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Rules between settings, refused at start like a bad value."""
    keys = ("consent_agree_key", "consent_decline_key", "optout_key")
    if len({values[k] for k in keys}) < len(keys):
        named = ", ".join(f"{k}={values[k]!r} (from {sources[k]})" for k in keys)
        raise ConfigError(f"the callee's keys must differ: {named}")
    budget = pre_bridge_budget_s(values)
    if budget >= values["early_media_max_s"]:
        raise ConfigError(
            f"originate_timeout_s ({values['originate_timeout_s']}, from {sources['originate_timeout_s']}) plus the "
            f"prompts before the bridge ({budget - values['originate_timeout_s']} s at most) must stay below "
            f"early_media_max_s ({values['early_media_max_s']}, from {sources['early_media_max_s']}): the agent's "
            f"phone waits that long in early media before a SIP proxy's Timer C ends the call")


def _fill_derived(values: dict[str, Any]) -> None:
    data_dir = Path(values["data_dir"]).resolve()
    values["data_dir"] = data_dir
    for key, sub in (("prompt_dir", "prompts"), ("recording_dir", "recordings"), ("cdr_dir", "cdr")):
        values[key] = Path(values[key]).resolve() if values.get(key) else data_dir / sub


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read defaults, the TOML file named by FSAPP_CONFIG, then FSAPP_* variables."""
    env = os.environ if env is None else env
    values = {s.key: s.default for s in SETTINGS}
    sources = {s.key: "default" for s in SETTINGS}

    config_path = env.get(ENV_PREFIX + "CONFIG")
    if config_path:
        path = Path(config_path).expanduser()
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read FSAPP_CONFIG file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"FSAPP_CONFIG file {path} is not valid TOML: {exc}") from None
        for key, raw in _flatten(document).items():
            setting = SETTINGS_BY_KEY.get(key)
            if setting is None:
                raise ConfigError(f"unknown setting {key!r} in {path}")
            values[key] = _parse(setting, raw, str(path))
            sources[key] = str(path)

    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX):].lower()
        setting = SETTINGS_BY_KEY.get(key)
        if setting is None:
            continue  # other FSAPP_* variables (e.g. for the compose stack) are not ours to refuse
        values[key] = _parse(setting, raw, name)
        sources[key] = f"env {name}"

    _check_together(values, sources)
    _fill_derived(values)
    return Settings(values, sources)


def _flatten(document: Mapping[str, Any]) -> dict[str, Any]:
    """Top-level keys are settings; a table whose name is not a setting groups settings
    (so operators may write [limits] freq_tenant_per_day = 1)."""
    flat: dict[str, Any] = {}
    for key, value in document.items():
        if isinstance(value, dict) and key not in SETTINGS_BY_KEY:
            flat.update(value)
        else:
            flat[key] = value
    return flat
