"""Prompt catalogue and audio (RULEBOOK B1-B7): words, categories, real espeak-ng/sox rendering,
rebuild-only-what-changed, tenant uploads and lookup."""
from __future__ import annotations

import io
import math
import os
import re
import shutil
import struct
import wave
from pathlib import Path
from types import SimpleNamespace

import pytest

import models
from fs_app import prompts
from fs_app.cli import main as cli_main

# The reason codes of RULEBOOK section A, as stored in decisions.
RULEBOOK_REASONS = {
    "TENANT_NOT_ACTIVE", "TENANT_BANNED", "FUNCTION_BANNED", "SEAT_UNKNOWN", "SEAT_EXPIRED",
    "SEAT_BUSY", "SEAT_LIMIT", "UNAUTHENTICATED", "INVALID_NUMBER", "DNC", "NO_CONSENT",
    "OUTSIDE_CALLING_HOURS", "FREQUENCY_LIMIT", "NO_LOCAL_NUMBER", "NUMBER_LEASE_EXPIRED",
    "NUMBER_BUSY", "SCRIPT_NOT_APPROVED", "INDUSTRY_RESTRICTED", "INSUFFICIENT_BALANCE",
    "AUTODIAL_FORBIDDEN", "REGION_RESTRICTED", "POLICY_UNAVAILABLE",
}
# Causes FreeSWITCH knows by name (switch_channel_cause names), the only ones worth sending.
FREESWITCH_CAUSES = {
    "CALL_REJECTED", "OUTGOING_CALL_BARRED", "NORMAL_TEMPORARY_FAILURE", "INVALID_NUMBER_FORMAT",
    "INCOMPATIBLE_DESTINATION", "NORMAL_CIRCUIT_CONGESTION", "USER_BUSY", "SERVICE_UNAVAILABLE",
}


def _tools_or_skip():
    missing = [name for name in ("espeak-ng", "sox") if shutil.which(name) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing under CI: install the Debian packages espeak-ng and sox")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install -y espeak-ng sox)")


@pytest.fixture
def audio_tools():
    _tools_or_skip()


def tenant(code="ACME", display_name="云格科技", hotline="+864001234567"):
    return SimpleNamespace(code=code, display_name=display_name, hotline=hotline)


def make_settings(tmp_path, **extra):
    values = dict(prompt_dir=tmp_path / "prompts", optout_key="9", duration_warning_s=30,
                  prompt_upload_max_seconds=30)
    values.update(extra)
    return SimpleNamespace(**values)


def write_wav(path: Path, *, seconds=1.0, rate=8000, channels=1, width=2, amplitude=8000) -> Path:
    """A 440 Hz tone (amplitude 0 = digital silence)."""
    frames = int(seconds * rate)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        data = bytearray()
        for i in range(frames):
            value = int(amplitude * math.sin(2 * math.pi * 440 * i / rate))
            sample = struct.pack("<h", value) if width == 2 else bytes([128 + value // 256])
            data += sample * channels
        wav.writeframes(bytes(data))
    return path


def wav_format(path: Path) -> tuple[int, int, int, int, int]:
    """(channels, width, rate, frames, peak) read with the standard library only."""
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        data = wav.readframes(params.nframes)
    samples = struct.unpack(f"<{len(data) // 2}h", data)
    return params.nchannels, params.sampwidth, params.framerate, params.nframes, max(abs(s) for s in samples)


# --- catalogue -----------------------------------------------------------------------------------

def test_every_reason_code_has_a_category_a_prompt_and_a_cause():
    assert set(prompts.REASON_CODES) == RULEBOOK_REASONS
    categories = {prompts.category_for_reason(code) for code in RULEBOOK_REASONS}
    assert 6 <= len(categories) <= 10  # few enough for an agent to learn
    for code in RULEBOOK_REASONS:
        category = prompts.category_for_reason(code)
        assert prompts.category_prompt(category) in prompts.PROMPTS
        assert prompts.hangup_cause_for_reasons([code]) in FREESWITCH_CAUSES


@pytest.mark.parametrize("codes, cause, prompt", [
    (["DNC"], "CALL_REJECTED", "blocked_callee_protected"),
    (["NO_CONSENT"], "CALL_REJECTED", "blocked_callee_protected"),
    (["REGION_RESTRICTED"], "CALL_REJECTED", "blocked_callee_protected"),
    (["TENANT_BANNED"], "OUTGOING_CALL_BARRED", "blocked_account"),
    (["FUNCTION_BANNED"], "OUTGOING_CALL_BARRED", "blocked_account"),
    (["POLICY_UNAVAILABLE"], "NORMAL_TEMPORARY_FAILURE", "blocked_system"),
    (["INVALID_NUMBER"], "INVALID_NUMBER_FORMAT", "blocked_invalid_number"),
    (["INSUFFICIENT_BALANCE"], "OUTGOING_CALL_BARRED", "blocked_balance"),
    (["SEAT_BUSY"], "NORMAL_CIRCUIT_CONGESTION", "blocked_busy"),
    # Several failing rules: the most fundamental one is announced, and the cause matches it.
    (["SEAT_BUSY", "DNC"], "CALL_REJECTED", "blocked_callee_protected"),
    (["FREQUENCY_LIMIT", "INVALID_NUMBER", "TENANT_BANNED"], "INVALID_NUMBER_FORMAT", "blocked_invalid_number"),
    (["OUTSIDE_CALLING_HOURS", "INSUFFICIENT_BALANCE"], "OUTGOING_CALL_BARRED", "blocked_balance"),
])
def test_blocked_call_prompt_and_cause(codes, cause, prompt):
    assert prompts.hangup_cause_for_reasons(codes) == cause
    assert prompts.blocked_prompt_for_reasons(codes) == prompt
    assert prompts.hangup_cause_for_reasons(list(reversed(codes))) == cause  # order does not matter


def test_unknown_or_missing_reasons_are_refused():
    with pytest.raises(ValueError):
        prompts.category_for_reason("NOT_A_REASON")
    with pytest.raises(ValueError):
        prompts.hangup_cause_for_reasons([])
    with pytest.raises(ValueError):
        prompts.category_prompt("nonsense")


def test_every_prompt_has_mandarin_and_english_with_the_same_placeholders():
    required = {"disclosure", "consent_request", "consent_repeat", "optout_confirm", "optout_offer",
                "agent_recorded", "agent_not_recorded", "duration_warning", "callee_busy",
                "callee_no_answer", "callee_rejected", "callee_failed", "inbound_consent_request",
                "inbound_nobody_available", "inbound_unreachable"}
    assert required <= set(prompts.PROMPTS)
    for prompt in prompts.PROMPTS.values():
        assert re.search(r"[\u4e00-\u9fff]", prompt.zh), prompt.name
        assert prompt.en.isascii() and re.search(r"[a-z]", prompt.en), prompt.name
        assert set(re.findall(r"{(\w+)}", prompt.zh)) == set(re.findall(r"{(\w+)}", prompt.en)), prompt.name


def test_consent_prompt_offers_one_digit_among_1_2_and_the_optout_key():
    for lang in prompts.LANGUAGES:
        text = prompts.render_text("consent_request", lang, {"optout_key": "9"})
        assert "1" in text and "2" in text and "9" in text
        assert "7" in prompts.render_text("consent_request", lang, {"optout_key": "7"})
    assert prompts.render_text("optout_confirm", "zh") == "已为您登记，我们将不再致电。再见。"


def test_disclosure_names_the_tenant_and_spells_the_hotline_digit_by_digit():
    values = {"display_name": "云格科技", "hotline": "+864001234567"}
    zh = prompts.render_text("disclosure", "zh", values)
    assert zh.startswith("您好，这里是云格科技。如需投诉，请拨打")
    assert "四零零" in zh and "幺二三" in zh and "4001234567" not in zh
    en = prompts.render_text("disclosure", "en", {"display_name": "Yunge", "hotline": "+864001234567"})
    assert "Yunge" in en and "4 0 0" in en and "4001234567" not in en
    with pytest.raises(ValueError):
        prompts.render_text("disclosure", "zh", {"display_name": "", "hotline": "+864001234567"})


def test_warning_prompt_says_the_configured_seconds():
    assert "三十秒" in prompts.render_text("duration_warning", "zh", {"warning_seconds": 30})
    assert "十五秒" in prompts.render_text("duration_warning", "zh", {"warning_seconds": 15})
    assert "45 seconds" in prompts.render_text("duration_warning", "en", {"warning_seconds": 45})


@pytest.mark.parametrize("number, lang", [
    ("+8613800138000", "zh"), ("+861012345678", "zh"), ("+14155550100", "en"),
    ("+442079460000", "en"), ("+85221234567", "en"), ("13800138000", "zh"), ("110", "zh"), ("", "zh"),
])
def test_language_for_number(number, lang):
    assert prompts.language_for_number(number) == lang


# --- building real audio -------------------------------------------------------------------------

def generic_files(root: Path) -> set[str]:
    return {f"{lang}/{name}.wav" for name, p in prompts.PROMPTS.items() if not p.per_tenant
            for lang in prompts.LANGUAGES}


def test_build_renders_every_prompt_as_8khz_mono_16bit_speech(tmp_path, audio_tools):
    settings = make_settings(tmp_path)
    report = prompts.build_prompts(settings, [tenant()])
    root = settings.prompt_dir
    expected = generic_files(root) | {f"tenants/ACME/{lang}/disclosure.wav" for lang in prompts.LANGUAGES}
    assert set(report.built) == expected
    for rel in expected:
        channels, width, rate, frames, peak = wav_format(root / rel)
        assert (channels, width, rate) == (1, 2, 8000), rel
        assert frames / rate > 0.8, f"{rel} is too short to be speech"
        assert frames / rate < 20, f"{rel} is too long for a prompt"
        assert peak > 3000, f"{rel} is (nearly) silent"
    zh, en = (wav_format(root / f"tenants/ACME/{lang}/disclosure.wav")[3] for lang in ("zh", "en"))
    assert zh != en


def test_rebuild_renders_only_what_changed(tmp_path, audio_tools):
    settings = make_settings(tmp_path)
    acme, other = tenant(), tenant("OTHER", "另一家公司", "+862112345678")
    prompts.build_prompts(settings, [acme, other])
    root = settings.prompt_dir
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")}

    again = prompts.build_prompts(settings, [acme, other])
    assert again.built == [] and len(again.unchanged) == len(stamps)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.wav")} == stamps

    renamed = prompts.build_prompts(settings, [tenant(display_name="云格科技有限公司"), other])
    assert sorted(renamed.built) == ["tenants/ACME/en/disclosure.wav", "tenants/ACME/zh/disclosure.wav"]

    new_key = prompts.build_prompts(make_settings(tmp_path, optout_key="8"), [], generic=True)
    assert sorted(new_key.built) == sorted(f"{lang}/{name}.wav" for lang in prompts.LANGUAGES
                                           for name in ("consent_repeat", "consent_request", "optout_offer"))

    (root / "en/callee_busy.wav").unlink()
    (root / "zh/callee_failed.wav").write_bytes(b"damaged")
    repaired = prompts.build_prompts(make_settings(tmp_path, optout_key="8"), [])
    assert sorted(repaired.built) == ["en/callee_busy.wav", "zh/callee_failed.wav"]

    forced = prompts.build_prompts(make_settings(tmp_path, optout_key="8"), [], force=True)
    assert set(forced.built) == generic_files(root)


def test_prompt_path_prefers_upload_then_tenant_then_generic(tmp_path, audio_tools):
    settings = make_settings(tmp_path)
    prompts.build_prompts(settings, [tenant()])
    root = settings.prompt_dir.resolve()
    assert prompts.prompt_path(settings, "consent_request", "zh") == str(root / "zh/consent_request.wav")
    assert prompts.prompt_path(settings, "consent_request", "zh", "ACME") == str(root / "zh/consent_request.wav")
    assert prompts.prompt_path(settings, "disclosure", "en", "ACME") == str(root / "tenants/ACME/en/disclosure.wav")
    with pytest.raises(prompts.PromptMissing):
        prompts.prompt_path(settings, "disclosure", "zh", "NEWCO")  # never built: no silent fallback
    with pytest.raises(prompts.PromptMissing):
        prompts.prompt_path(settings, "disclosure", "zh")

    prompts.upload_prompt(settings, "ACME", "disclosure", write_wav(tmp_path / "own.wav"), "zh")
    prompts.upload_prompt(settings, "ACME", "consent_request", write_wav(tmp_path / "own2.wav"), "zh")
    assert prompts.prompt_path(settings, "disclosure", "zh", "ACME") == str(root / "uploads/ACME/zh/disclosure.wav")
    assert prompts.prompt_path(settings, "consent_request", "zh", "ACME") == str(root / "uploads/ACME/zh/consent_request.wav")
    assert prompts.prompt_path(settings, "consent_request", "en", "ACME") == str(root / "en/consent_request.wav")
    # A rebuild never touches uploads.
    prompts.build_prompts(settings, [tenant()], force=True)
    assert (root / "uploads/ACME/zh/disclosure.wav").read_bytes() == (tmp_path / "own.wav").read_bytes()

    mounted = make_settings(tmp_path, freeswitch_prompt_dir="/var/lib/fsapp/prompts")
    assert prompts.prompt_path(mounted, "disclosure", "zh", "ACME") == "/var/lib/fsapp/prompts/uploads/ACME/zh/disclosure.wav"
    with pytest.raises(models.InvalidInput):
        prompts.prompt_path(settings, "disclosure", "zh", "../etc")


# --- the command line ----------------------------------------------------------------------------

def run(argv, env, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = cli_main(list(argv), out=out, err=err, env=env, **kwargs)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def no_database(monkeypatch):
    """The process has not bound the models to any database (a fresh `fsapp` invocation)."""
    monkeypatch.setattr(models.database, "obj", None)


def cli_env(tmp_path):
    return {"FSAPP_DATA_DIR": str(tmp_path / "data"), "FSAPP_PROMPT_DIR": str(tmp_path / "prompts")}


def test_cli_build_without_a_database_builds_the_generic_set_and_says_so(tmp_path, audio_tools, no_database):
    code, out, err = run(["prompts", "build"], cli_env(tmp_path))
    assert code == 0, err
    assert "generic prompts only" in out
    assert (tmp_path / "prompts/zh/consent_request.wav").is_file()
    assert not (tmp_path / "prompts/tenants").exists()
    code, out, _ = run(["prompts", "build"], cli_env(tmp_path))
    assert code == 0 and f"0 built, {len(generic_files(tmp_path))} unchanged" in out


def test_cli_build_includes_every_tenant_from_the_database(tmp_path, audio_tools, sqlite_db):
    for code_, name, hotline in (("ACME", "云格科技", "+864001234567"), ("BETA", "Beta Ltd", "+862112345678")):
        models.Tenant.create(code=code_, name=name, display_name=name, hotline=hotline)
    env = {"FSAPP_DATA_DIR": str(tmp_path), "FSAPP_PROMPT_DIR": str(tmp_path / "prompts")}
    code, out, err = run(["prompts", "build"], env)
    assert code == 0, err
    for code_ in ("ACME", "BETA"):
        for lang in prompts.LANGUAGES:
            assert (tmp_path / f"prompts/tenants/{code_}/{lang}/disclosure.wav").is_file()
    shutil.rmtree(tmp_path / "prompts/tenants/BETA")
    code, out, err = run(["prompts", "build", "--tenant", "BETA"], env)
    assert code == 0, err
    assert "built tenants/BETA/zh/disclosure.wav" in out and "consent_request" not in out
    code, _, err = run(["prompts", "build", "--tenant", "NOPE"], env)
    assert code == 2 and "NOPE" in err


def test_cli_build_names_the_debian_package_when_espeak_is_missing(tmp_path, monkeypatch, no_database):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = run(["prompts", "build"], cli_env(tmp_path))
    assert code == 2
    assert "espeak-ng" in err and "Debian package" in err
    assert len(err.strip().splitlines()) == 1
    assert not list((tmp_path / "prompts").rglob("*.wav")) if (tmp_path / "prompts").exists() else True


def test_cli_upload_accepts_a_telephone_format_recording(tmp_path, no_database):
    source = write_wav(tmp_path / "mine.wav", seconds=3)
    code, out, err = run(["prompts", "upload", "ACME", "disclosure", str(source), "--lang", "en"], cli_env(tmp_path))
    assert code == 0, err
    target = tmp_path / "prompts/uploads/ACME/en/disclosure.wav"
    assert target.read_bytes() == source.read_bytes()
    assert "8000 Hz mono 16-bit, 3.0 s" in out


@pytest.mark.parametrize("make, message", [
    (lambda p: write_wav(p, channels=2), "stereo"),
    (lambda p: write_wav(p, rate=44100), "44100 Hz"),
    (lambda p: write_wav(p, width=1), "8-bit"),
    (lambda p: write_wav(p, seconds=31), "limit is 30 s"),
    (lambda p: write_wav(p, seconds=0), "empty"),
    (lambda p: write_wav(p, amplitude=0), "silent"),
    (lambda p: (p.write_bytes(b"this is not audio at all" * 10), p)[1], "not a PCM WAV file"),
    (lambda p: (p.write_bytes(write_wav(p).read_bytes()[:2000]), p)[1], "truncated"),
])
def test_cli_upload_refuses_bad_recordings_and_writes_nothing(tmp_path, no_database, make, message):
    source = make(tmp_path / "bad.wav")
    code, out, err = run(["prompts", "upload", "ACME", "disclosure", str(source)], cli_env(tmp_path))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "prompts").exists()


def test_cli_upload_refuses_platform_prompts_and_unknown_names(tmp_path, no_database):
    source = write_wav(tmp_path / "ok.wav")
    for name in ("blocked_account", "agent_recorded", "no_such_prompt"):
        code, _, err = run(["prompts", "upload", "ACME", name, str(source)], cli_env(tmp_path))
        assert code == 2 and "cannot be uploaded" in err
    assert not (tmp_path / "prompts").exists()


def test_cli_upload_resamples_with_sox_when_asked(tmp_path, audio_tools, no_database):
    source = write_wav(tmp_path / "cd.wav", rate=44100, channels=2, seconds=2)
    code, out, err = run(["prompts", "upload", "ACME", "disclosure", str(source), "--resample"], cli_env(tmp_path))
    assert code == 0, err
    assert "converted with sox from 44100 Hz stereo" in out
    channels, width, rate, frames, peak = wav_format(tmp_path / "prompts/uploads/ACME/zh/disclosure.wav")
    assert (channels, width, rate) == (1, 2, 8000)
    assert abs(frames - 16000) < 200 and peak > 3000


def test_cli_upload_checks_the_tenant_when_a_database_exists(tmp_path, sqlite_db):
    models.Tenant.create(code="ACME", name="A", display_name="A", hotline="+864001234567")
    env = {"FSAPP_DATA_DIR": str(tmp_path), "FSAPP_PROMPT_DIR": str(tmp_path / "prompts")}
    source = write_wav(tmp_path / "ok.wav")
    code, _, err = run(["prompts", "upload", "NOPE", "disclosure", str(source)], env)
    assert code == 2 and "NOPE" in err
    code, _, err = run(["prompts", "upload", "ACME", "disclosure", str(source)], env)
    assert code == 0, err


def test_cli_list_shows_the_catalogue(tmp_path, no_database):
    code, out, _ = run(["prompts", "list", "--lang", "en"], cli_env(tmp_path))
    assert code == 0
    assert len(out.strip().splitlines()) == len(prompts.PROMPTS)
    assert "If you do not want any more calls from us, press 9." in out
