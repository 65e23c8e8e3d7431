"""What each reason code (RULEBOOK A1-A16) means, for the call detail and the dashboard, in the
admin's language. The texts live in domain.reasons, shared with the policy and the CLI."""
from __future__ import annotations

from flask_babel import get_locale

from domain.reasons import REASONS, reason_text

__all__ = ["REASONS", "reason_explanation", "reason_label", "reason_rule"]


def _english() -> bool:
    locale = get_locale()
    return locale is not None and locale.language == "en"


def reason_label(code: str) -> str:
    text = reason_text(code)
    return text.label_en if _english() else text.label_zh


def reason_explanation(code: str) -> str:
    text = reason_text(code)
    return text.explanation_en if _english() else text.explanation_zh


def reason_rule(code: str) -> str:
    return reason_text(code).rule
