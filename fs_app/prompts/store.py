"""The prompt directory shared with FreeSWITCH: building, uploads and lookup.

Layout under ``settings.prompt_dir``::

    <lang>/<name>.wav                          generated, platform-wide
    tenants/<CODE>/<lang>/<name>.wav           generated per tenant (the disclosure)
    uploads/<CODE>/<lang>/<name>.wav           a tenant's own recording (wins over both)
    manifest.json                              what each generated file was made from

Uploads live apart from generated files so ``prompts build --force`` can never overwrite them.
The manifest stores a hash of the words, the voice and the renderer settings for each generated
file, so a rebuild re-renders only what changed.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol

from domain.errors import InvalidInput

from . import audio
from .catalogue import LANGUAGES, PROMPTS, TENANT_PROMPTS, get_prompt, render_text

MANIFEST_NAME = "manifest.json"
# Bump when the rendering pipeline changes in a way that should re-render everything.
RENDER_VERSION = 1
_TENANT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class PromptMissing(LookupError):
    """No audio file exists for a prompt yet (run ``fsapp prompts build``)."""


class TenantLike(Protocol):
    code: str
    display_name: str
    hotline: str


@dataclass
class BuildReport:
    built: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UploadResult:
    path: Path
    info: audio.WavInfo
    converted_from: str | None  # description of the original format when sox resampled it


def _setting(settings, key: str, default):
    value = getattr(settings, key, None)
    return default if value is None else value


def _prompt_dir(settings) -> Path:
    return Path(settings.prompt_dir).resolve()


def check_tenant_code(code: str) -> str:
    """Tenant codes become directory names: refuse anything that could leave the directory."""
    if not isinstance(code, str) or not _TENANT_CODE.match(code):
        raise InvalidInput("invalid tenant code %(code)r: use letters, digits, '_', '.', '-'", code=code)
    return code


def _check_lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise InvalidInput(f"unknown prompt language {lang!r}: expected one of {', '.join(LANGUAGES)}")
    return lang


def _render_values(settings, tenant: TenantLike | None = None) -> dict:
    values = {
        "optout_key": _setting(settings, "optout_key", "9"),
        "agree_key": _setting(settings, "consent_agree_key", "1"),
        "decline_key": _setting(settings, "consent_decline_key", "2"),
        "warning_seconds": _setting(settings, "duration_warning_s", 30),
    }
    if tenant is not None:
        values["display_name"] = tenant.display_name
        values["hotline"] = tenant.hotline
    return values


def _hash(text: str, voice: str, lang: str) -> str:
    recipe = [RENDER_VERSION, text, voice, audio.SPEED_WPM[lang], audio.SAMPLE_RATE]
    return hashlib.sha256(json.dumps(recipe, ensure_ascii=False).encode("utf-8")).hexdigest()


def _load_manifest(root: Path) -> dict:
    try:
        data = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": RENDER_VERSION, "files": {}}
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"version": RENDER_VERSION, "files": {}}
    return data


def _save_manifest(root: Path, manifest: dict) -> None:
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, root / MANIFEST_NAME)


def _is_current(path: Path, entry: dict | None, digest: str) -> bool:
    if not entry or entry.get("hash") != digest or not path.is_file():
        return False
    try:
        info = audio.read_wav(path)
    except audio.AudioError:
        return False
    return info.is_telephone_format and info.frames > 0


def _jobs(settings, tenants: Iterable[TenantLike], generic: bool):
    """(relative path, prompt name, lang, text) for everything to render."""
    base_values = _render_values(settings)
    if generic:
        for prompt in PROMPTS.values():
            if prompt.per_tenant:
                continue
            for lang in LANGUAGES:
                yield f"{lang}/{prompt.name}.wav", prompt.name, lang, render_text(prompt.name, lang, base_values)
    for tenant in tenants:
        code = check_tenant_code(tenant.code)
        values = _render_values(settings, tenant)
        for name in TENANT_PROMPTS:
            for lang in LANGUAGES:
                try:
                    text = render_text(name, lang, values)
                except ValueError as exc:
                    raise InvalidInput("tenant %(code)s: %(exc)s", code=code, exc=exc) from None
                yield f"tenants/{code}/{lang}/{name}.wav", name, lang, text


def build_prompts(settings, tenants: Iterable[TenantLike] = (), *, generic: bool = True,
                  force: bool = False) -> BuildReport:
    """Render the generic catalogue (unless ``generic`` is false) and each tenant's own prompts.

    Unchanged files (same words, voice and renderer) are kept unless ``force``.
    Raises ``audio.AudioToolMissing`` when espeak-ng or sox is absent.
    """
    audio.tool("espeak-ng")
    audio.tool("sox")
    root = _prompt_dir(settings)
    root.mkdir(parents=True, exist_ok=True)
    manifest = _load_manifest(root)
    files = manifest["files"]
    voices = {lang: audio.available_voice(lang) for lang in LANGUAGES}
    report = BuildReport()
    with tempfile.TemporaryDirectory(prefix="fsapp-prompts-") as work:
        work_dir = Path(work)
        for rel, name, lang, text in _jobs(settings, tenants, generic):
            target = root / rel
            digest = _hash(text, voices[lang], lang)
            if not force and _is_current(target, files.get(rel), digest):
                report.unchanged.append(rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = work_dir / f"{len(report.built)}-{target.name}"
            audio.synthesize(text, lang, voices[lang], staged, work_dir)
            # Copy then rename inside the target directory: FreeSWITCH never sees half a file.
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(staged, partial)
            os.replace(partial, target)
            files[rel] = {"hash": digest, "voice": voices[lang], "text": text, "prompt": name}
            report.built.append(rel)
            _save_manifest(root, manifest)  # after each file, so an interrupted build resumes
    manifest["version"] = RENDER_VERSION
    _save_manifest(root, manifest)
    return report


def ensure_tenant_prompts(settings, tenant: TenantLike) -> BuildReport:
    """Render one tenant's disclosure if it is missing or its name/hotline changed."""
    return build_prompts(settings, [tenant], generic=False)


def upload_prompt(settings, tenant_code: str, name: str, source: Path | str, lang: str = "zh", *,
                  resample: bool = False) -> UploadResult:
    """Install a tenant's own recording of a prompt after checking it; nothing is written if
    any check fails. Files not already 8 kHz mono 16-bit are refused unless ``resample``."""
    code = check_tenant_code(tenant_code)
    _check_lang(lang)
    try:
        prompt = get_prompt(name)
    except ValueError:
        prompt = None
    if prompt is None or not prompt.tenant_uploadable:
        allowed = ", ".join(p.name for p in PROMPTS.values() if p.tenant_uploadable)
        raise InvalidInput("prompt %(name)r cannot be uploaded by a tenant; allowed: %(allowed)s", name=name, allowed=allowed)
    source = Path(source)
    if not source.is_file():
        raise InvalidInput("%(source)s: no such file", source=source)
    max_seconds = int(_setting(settings, "prompt_upload_max_seconds", 30))

    try:
        info = audio.read_wav(source)
    except audio.AudioError as exc:
        raise InvalidInput("%(source_name)s: %(exc)s", source_name=source.name, exc=exc) from None
    converted_from = None
    with tempfile.TemporaryDirectory(prefix="fsapp-upload-") as work:
        candidate = source
        if not info.is_telephone_format:
            if not resample:
                raise InvalidInput(
                    f"{source.name}: {info.describe()}; prompts must be 8000 Hz mono 16-bit PCM WAV "
                    f"(add --resample to convert it with sox)")
            converted_from = info.describe()
            candidate = Path(work) / "converted.wav"
            try:
                audio.convert_to_telephone(source, candidate)
                info = audio.read_wav(candidate)
            except audio.AudioError as exc:
                raise InvalidInput("%(source_name)s: %(exc)s", source_name=source.name, exc=exc) from None
        if info.frames == 0:
            raise InvalidInput("%(source_name)s: the recording is empty", source_name=source.name)
        if info.seconds > max_seconds:
            raise InvalidInput(f"{source.name}: the recording lasts {info.seconds:.1f} s; the limit is {max_seconds} s")
        if info.peak < audio.SILENCE_PEAK:
            raise InvalidInput("%(source_name)s: the recording is silent", source_name=source.name)

        target = _prompt_dir(settings) / "uploads" / code / lang / f"{name}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        shutil.copyfile(candidate, partial)
        os.replace(partial, target)
    return UploadResult(target, info, converted_from)


def remove_upload(settings, tenant_code: str, name: str, lang: str) -> bool:
    """Delete a tenant's recording so the generated prompt plays again; True if one existed."""
    code = check_tenant_code(tenant_code)
    _check_lang(lang)
    get_prompt(name)
    target = _prompt_dir(settings) / "uploads" / code / lang / f"{name}.wav"
    if target.is_file():
        target.unlink()
        return True
    return False


def local_prompt_path(settings, name: str, lang: str, tenant_code: str | None = None) -> Path:
    """The file to play on this machine: tenant upload, else tenant's generated file, else the
    generic one. PromptMissing if none exists."""
    prompt = get_prompt(name)
    _check_lang(lang)
    root = _prompt_dir(settings)
    candidates = []
    if tenant_code:
        code = check_tenant_code(tenant_code)
        candidates += [root / "uploads" / code / lang / f"{name}.wav",
                       root / "tenants" / code / lang / f"{name}.wav"]
    if not prompt.per_tenant:
        candidates.append(root / lang / f"{name}.wav")
    for path in candidates:
        if path.is_file():
            return path
    who = f" for tenant {tenant_code}" if tenant_code else ""
    raise PromptMissing(f"no audio for prompt {name!r} ({lang}){who}: run `fsapp prompts build`")


def prompt_path(settings, name: str, lang: str, tenant_code: str | None = None) -> str:
    """Absolute path of the prompt as FreeSWITCH sees it (for ``playback`` /
    ``play_and_get_digits``). When FreeSWITCH mounts the prompt directory elsewhere, the
    optional setting ``freeswitch_prompt_dir`` names its path there."""
    local = local_prompt_path(settings, name, lang, tenant_code)
    fs_root = getattr(settings, "freeswitch_prompt_dir", None)
    if not fs_root:
        return str(local)
    return str(Path(fs_root) / local.relative_to(_prompt_dir(settings)))
