"""One language per page. Chinese is the source language of the templates; English comes from a
.po file that is compiled to .mo when the app starts (Babel's Python API), so a fresh clone needs
no build step. The model layer speaks English (the CLI's lines); ``error_text`` shows its
refusals in the page's language from a Chinese catalogue (translations/zh/LC_MESSAGES/errors.po)."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import has_request_context, session
from flask_babel import get_locale
from flask_babel import gettext as _

from domain.errors import TERM_PARAMETERS, ForeignReference, fill

from .formatting import local_time

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


# --- the model layer's errors ---------------------------------------------------------------

ERRORS_PO = {"zh": SOURCE_DIR / "zh" / "LC_MESSAGES" / "errors.po"}


@lru_cache(maxsize=None)
def error_catalogue(locale: str) -> dict[str, str]:
    """English template -> this locale's template (empty for English, whose text is the msgid)."""
    path = ERRORS_PO.get(locale)
    if path is None:
        return {}
    with path.open("rb") as handle:
        catalogue = read_po(handle, locale=locale)
    return {m.id: m.string for m in catalogue if m.id and m.string and not m.fuzzy}


def page_locale() -> str:
    """The page's language: the user's choice inside a request, Chinese elsewhere."""
    return str(get_locale() or "zh") if has_request_context() else "zh"


def error_text(exc: BaseException) -> str:
    """A refusal from the models (or the admin's own form parsing) in the page's language.

    ``InvalidInput`` carries its English template and parameters (domain/errors.py): the template
    is looked up in the locale's catalogue, field names (``what``, ``unit``) too, and times are
    shown in Asia/Shanghai with the zone named. An id of another tenant (``ForeignReference``)
    gets its own wording. Anything else is shown as it is."""
    if isinstance(exc, ForeignReference):
        foreign = _foreign(exc)
        if foreign is not None:
            return foreign
    template = getattr(exc, "template", None)
    if template is None:
        return str(exc)
    locale = page_locale()
    table = error_catalogue(locale)
    params = {name: error_text(value) if isinstance(value, BaseException) and hasattr(value, "template")
              else _term(table, name, value) for name, value in exc.params.items()}  # a refusal inside a refusal
    try:
        return fill(table.get(template, template), params, show_time=local_time_with_zone)
    except (KeyError, ValueError, TypeError):  # a translation that names other parameters: say it in English
        return str(exc)


def _term(table: dict, name: str, value):
    """A field name (``what``) or unit (``unit``, looked up as ``unit:fen``) in the page's language."""
    if name not in TERM_PARAMETERS or not isinstance(value, str):
        return value
    key = value if name == "what" else f"{name}:{value}"
    return table.get(key, value)


def _foreign(exc: ForeignReference) -> str | None:
    if exc.kind == "call":
        return _("通话 ID %(value)s 不是租户 %(owner)s 的通话，请核对。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "campaign":
        return _("租户 %(owner)s 没有话术 %(value)s。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "number":
        return _("号码 %(value)s 不是租户 %(owner)s 租用的号码。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "token":
        return _("没有这个令牌。")
    return None


def local_time_with_zone(value: datetime) -> str:
    """A naive UTC time as '2026-11-23 18:00 北京时间' / '… Beijing time' (the page's zone, named)."""
    return f"{local_time(value, '%Y-%m-%d %H:%M')} {zone_name()}"


def zone_name() -> str:
    return _("北京时间")
