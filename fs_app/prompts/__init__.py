"""Prompts: the catalogue of what callers, callees and agents hear, and its audio files.

The call flows use:

* ``prompt_path(settings, name, lang, tenant_code=None)`` -> absolute path for FreeSWITCH
* ``language_for_number(e164)`` -> ``"zh"`` | ``"en"`` (B7)
* ``blocked_prompt_for_reasons(codes)`` / ``hangup_cause_for_reasons(codes)`` (B6)
* ``category_for_reason(code)``, ``category_prompt(category)``
* ``ensure_tenant_prompts(settings, tenant)`` to render a new tenant's disclosure on demand
"""
from .audio import AudioError, AudioToolMissing, WavInfo, read_wav
from .catalogue import (
    AGENT_LANGUAGE, BLOCK_CATEGORIES, CATEGORY_BY_REASON, DEFAULT_LANGUAGE, LANGUAGES, PROMPTS,
    REASON_CODES, TENANT_PROMPTS, BlockCategory, Prompt, blocked_prompt_for_reasons,
    category_for_reason, category_prompt, get_prompt, hangup_cause_for_reasons,
    language_for_number, primary_category, render_text, spoken_number,
)
from .store import (
    BuildReport, PromptMissing, UploadResult, build_prompts, ensure_tenant_prompts,
    local_prompt_path, prompt_path, remove_upload, upload_prompt,
)

__all__ = [
    "AGENT_LANGUAGE", "AudioError", "AudioToolMissing", "BLOCK_CATEGORIES", "BlockCategory",
    "BuildReport", "CATEGORY_BY_REASON", "DEFAULT_LANGUAGE", "LANGUAGES", "PROMPTS", "Prompt",
    "PromptMissing", "REASON_CODES", "TENANT_PROMPTS", "UploadResult", "WavInfo",
    "blocked_prompt_for_reasons", "build_prompts", "category_for_reason", "category_prompt",
    "ensure_tenant_prompts", "get_prompt", "hangup_cause_for_reasons", "language_for_number",
    "local_prompt_path", "primary_category", "prompt_path", "read_wav", "remove_upload",
    "render_text", "spoken_number", "upload_prompt",
]
