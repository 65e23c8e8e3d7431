"""Settings: rulebook defaults, TOML file, environment overrides, refusal of invalid values."""
import pytest

from fs_app.config import SETTINGS, ConfigError, load_settings


def test_rulebook_defaults():
    s = load_settings({})
    assert s.calling_windows == ((9 * 60, 12 * 60), (14 * 60, 18 * 60))
    assert (s.freq_tenant_per_day, s.freq_tenant_per_7_days, s.freq_tenant_per_30_days) == (2, 5, 10)
    assert s.freq_tenant_min_gap_minutes == 30
    assert (s.freq_global_per_24_hours, s.freq_global_per_5_minutes) == (5, 3)
    assert s.emergency_numbers == ("110", "119", "120", "122")
    assert s.seat_max_calls == 1 and s.number_max_calls == 1
    assert s.recording_consent_timeout_s == 5 and s.recording_consent_repeats == 1
    assert s.optout_key == "9" and s.duration_warning_s == 30
    assert s.billing_increment_s == 60 and s.seat_period_days == 30
    assert s.complaint_ratio_per_1000 == 1.0 and s.complaint_min_count == 3
    assert s.number_retention_days == 30 and s.terminated_delete_days == 7
    assert s.login_idle_disable_days == 365 and s.complaint_answer_hours == 2
    assert s.restricted_provinces == () and s.block_statutory_holidays is False
    assert all(s.source(key) == "default" for key, _, _ in s.items())


def test_toml_file_then_environment_override(tmp_path):
    path = tmp_path / "fsapp.toml"
    path.write_text('freq_tenant_per_day = 1\ncalling_windows = ["10:00-11:00"]\n'
                    '[limits]\nfreq_global_per_5_minutes = 2\n', encoding="utf-8")
    s = load_settings({"FSAPP_CONFIG": str(path), "FSAPP_FREQ_TENANT_PER_DAY": "2", "FSAPP_BLOCK_WEEKENDS": "yes"})
    assert s.freq_tenant_per_day == 2 and s.source("freq_tenant_per_day") == "env FSAPP_FREQ_TENANT_PER_DAY"
    assert s.calling_windows == ((600, 660),) and s.source("calling_windows") == str(path)
    assert s.freq_global_per_5_minutes == 2
    assert s.block_weekends is True


def test_derived_directories_follow_data_dir(tmp_path):
    s = load_settings({"FSAPP_DATA_DIR": str(tmp_path)})
    assert s.prompt_dir == tmp_path / "prompts" and s.recording_dir == tmp_path / "recordings"
    s = load_settings({"FSAPP_DATA_DIR": str(tmp_path), "FSAPP_PROMPT_DIR": str(tmp_path / "p")})
    assert s.prompt_dir == tmp_path / "p"


@pytest.mark.parametrize("name, value, fragment", [
    ("FSAPP_FREQ_TENANT_PER_DAY", "two", "freq_tenant_per_day"),
    ("FSAPP_FREQ_TENANT_PER_DAY", "0", "must be >= 1"),
    ("FSAPP_CALLING_WINDOWS", "12:00-09:00", "ends before it starts"),
    ("FSAPP_CALLING_WINDOWS", "09:00-12:00,11:00-13:00", "overlap"),
    ("FSAPP_CALLING_WINDOWS", "9-12", "not HH:MM"),
    ("FSAPP_BLOCK_WEEKENDS", "maybe", "block_weekends"),
    ("FSAPP_ESL_LISTEN", "localhost", "HOST:PORT"),
    ("FSAPP_ESL_ALLOWED_PEERS", "10.0.0.0/8,nonsense", "not an IP"),
    ("FSAPP_SCREENING_KEYWORDS", "{not json", "screening_keywords"),
    ("FSAPP_OPTOUT_KEY", "99", "optout_key"),
])
def test_invalid_values_are_refused_naming_the_key(name, value, fragment):
    with pytest.raises(ConfigError) as caught:
        load_settings({name: value})
    assert fragment in str(caught.value)
    assert name.removeprefix("FSAPP_").lower() in str(caught.value)


def test_unknown_key_in_file_and_bad_toml_are_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("no_such_setting = 1\n")
    with pytest.raises(ConfigError, match="no_such_setting"):
        load_settings({"FSAPP_CONFIG": str(path)})
    path.write_text("freq = [\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"FSAPP_CONFIG": str(path)})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"FSAPP_CONFIG": str(tmp_path / "missing.toml")})


def test_every_setting_default_parses_through_its_own_parser():
    # The default must survive a round trip through display + parse, so `config show` output
    # can be pasted back into a file or the environment.
    for setting in SETTINGS:
        if setting.default is None:
            continue
        shown = setting.display(setting.default)
        if isinstance(setting.default, dict):
            continue
        canonical = setting.parse(setting.default) if isinstance(setting.default, str) else setting.default
        assert setting.parse(shown) == canonical, setting.key


def test_config_show_names_sources(cli):
    result = cli("config", "show", extra_env={"FSAPP_FREQ_TENANT_PER_DAY": "1"})
    assert result.code == 0
    line = next(l for l in result.out.splitlines() if l.startswith("freq_tenant_per_day"))
    assert "= 1" in line and "env FSAPP_FREQ_TENANT_PER_DAY" in line and "[A9]" in line
    assert cli("config", "show", extra_env={"FSAPP_SEAT_MAX_CALLS": "-1"}).code == 2


def test_restricted_provinces_are_canonical_official_names():
    s = load_settings({"FSAPP_RESTRICTED_PROVINCES": "新疆,广东省,西藏自治区"})
    assert s.restricted_provinces == ("新疆维吾尔自治区", "广东省", "西藏自治区")
    with pytest.raises(ConfigError, match="restricted_provinces.*not a province"):
        load_settings({"FSAPP_RESTRICTED_PROVINCES": "Atlantis"})


def test_the_callees_keys_must_differ():
    assert load_settings({"FSAPP_OPTOUT_KEY": "#", "FSAPP_CONSENT_AGREE_KEY": "5"}).consent_agree_key == "5"
    with pytest.raises(ConfigError, match=r"keys must differ.*optout_key='1' \(from env FSAPP_OPTOUT_KEY\)"):
        load_settings({"FSAPP_OPTOUT_KEY": "1"})
    with pytest.raises(ConfigError, match="keys must differ"):
        load_settings({}).replace(consent_decline_key="1")


def test_the_early_media_phase_must_end_before_the_agents_sip_timers():
    """The agent leg stays in early media (183) while the callee rings and is prompted: ringing
    plus the longest prompts must stay below early_media_max_s (SIP Timer C, > 3 minutes)."""
    from fs_app.config import pre_bridge_budget_s
    defaults = load_settings({})
    assert pre_bridge_budget_s(defaults._values) == 30 + 4 * 30 + 2 * 5 < defaults.early_media_max_s == 180
    with pytest.raises(ConfigError, match=r"originate_timeout_s \(60, from env FSAPP_ORIGINATE_TIMEOUT_S\).*"
                                          r"below early_media_max_s \(180"):
        load_settings({"FSAPP_ORIGINATE_TIMEOUT_S": "60"})
    assert load_settings({"FSAPP_ORIGINATE_TIMEOUT_S": "60", "FSAPP_EARLY_MEDIA_MAX_S": "240"}).originate_timeout_s == 60
