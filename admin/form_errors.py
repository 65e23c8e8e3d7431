"""Kept for imports that predate ``admin.i18n.error_text``, the one way a page shows a refusal."""
from .i18n import error_text

__all__ = ["error_text"]
