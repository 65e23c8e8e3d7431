"""Chinese is the source language of the templates; English comes from a .po file that is
compiled to .mo when the app starts (Babel's Python API), so a fresh clone needs no build step."""
from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import session

SOURCE_DIR = Path(__file__).parent / "translations"
LOCALES = ("zh", "en")


def compile_catalogues(data_dir) -> Path:
    """Compile every translations/<locale>/LC_MESSAGES/messages.po under data_dir; returns the root."""
    target_root = Path(data_dir) / "cache" / "admin-translations"
    for po_path in SOURCE_DIR.glob("*/LC_MESSAGES/messages.po"):
        mo_path = target_root / po_path.relative_to(SOURCE_DIR).with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as handle:
            catalogue = read_po(handle, locale=po_path.parts[-3])
        temporary = mo_path.with_suffix(".tmp")
        with temporary.open("wb") as handle:
            write_mo(handle, catalogue)
        temporary.replace(mo_path)  # atomic: several processes may start together
    return target_root


def selected_locale() -> str:
    """Chinese unless the user switched to English (the choice lives in the session)."""
    chosen = session.get("lang")
    return chosen if chosen in LOCALES else "zh"


def error_text(exc: Exception) -> str:
    """A refused act's message as the page shows it: every view shows a model error through this
    one helper. For now the model's own one-line message (an id of another tenant is said in
    the page's language, ``form_errors``); a catalogue of the models' messages replaces this."""
    from .form_errors import error_text as form_error_text

    return form_error_text(exc)
