"""The English catalogue covers every Chinese string of the admin, and compiles at start."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import admin
from admin.i18n import compile_catalogues

ADMIN_DIR = Path(admin.__file__).parent
PO_FILE = ADMIN_DIR / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def source_strings() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ADMIN_DIR), method_map=[("**/templates/**.html", "jinja2"), ("**.py", "python")],
            keywords={**DEFAULT_KEYWORDS, "_l": None}):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_string_has_an_english_translation():
    with PO_FILE.open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id for m in catalogue if m.id and m.string and not m.fuzzy}
    strings = source_strings()
    assert len(strings) > 300
    missing = sorted(strings - translated)
    assert not missing, f"add English for: {missing}"


def test_catalogue_compiles_into_the_data_dir(tmp_path):
    root = compile_catalogues(tmp_path)
    mo = root / "en" / "LC_MESSAGES" / "messages.mo"
    assert mo.stat().st_size > 1000
    before = mo.stat().st_mtime_ns
    compile_catalogues(tmp_path)  # up to date: not rewritten
    assert mo.stat().st_mtime_ns == before


# --- one language per page ------------------------------------------------------------------

import ast  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

from domain.errors import InvalidInput, NotFound  # noqa: E402

from admin.i18n import error_catalogue, error_text  # noqa: E402

ROOT = ADMIN_DIR.parent
ERROR_CLASSES = {"InvalidInput": 0, "NotFound": 0, "OutOfRange": 0, "ForeignReference": 3, "EslError": 0,
                 "EslAuthError": 0}
#: where the admin's refusals and notes come from: the domain helpers, the models, its form parsing, and FreeSWITCH's
#: inbound Event Socket (the seats page's registrations)
ERROR_SOURCES = [*sorted((ROOT / "domain").glob("*.py")), *sorted((ROOT / "models").rglob("*.py")), ADMIN_DIR / "form_values.py",
                 *(ROOT / "fs_app" / name for name in ("inbound_esl.py", "registrations.py", "seat_revocation.py"))]
HAN = re.compile(r"[\u4e00-\u9fff]")


def _templates(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        body, orelse = _templates(node.body), _templates(node.orelse)
        return None if body is None or orelse is None else body + orelse
    return None


def model_error_templates() -> tuple[set[str], list[str]]:
    """Every message template raised in ERROR_SOURCES, and the raises whose message is not a
    literal template (an f-string cannot be translated)."""
    found, unreadable = set(), []
    for path in ERROR_SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ERROR_CLASSES:
                index = ERROR_CLASSES[node.func.id]
                if len(node.args) <= index:
                    continue
                templates = _templates(node.args[index])
                if templates is None:
                    unreadable.append(f"{path.name}:{node.lineno}")
                else:
                    found.update(templates)
    return found, unreadable


def test_every_model_error_is_a_template_with_a_chinese_translation():
    templates, unreadable = model_error_templates()
    assert not unreadable, f"raise a literal template with parameters, not an f-string: {unreadable}"
    assert len(templates) > 70
    zh = error_catalogue("zh")
    missing = sorted(t for t in templates if t not in zh and not HAN.search(t))
    assert not missing, f"add Chinese to translations/zh/LC_MESSAGES/errors.po for: {missing}"
    for template in templates & zh.keys():  # the same parameters on both sides
        assert set(re.findall(r"%\((\w+)\)", zh[template])) <= set(re.findall(r"%\((\w+)\)", template)), template


def test_cli_text_is_the_english_template_filled_in():
    exc = InvalidInput("invalid phone number %(raw)r", raw="1380013800")
    assert str(exc) == "invalid phone number '1380013800'"
    assert str(NotFound("unknown tenant %(code)r", code="x")) == "unknown tenant 'x'"
    assert str(InvalidInput("100% literal")) == "100% literal"  # no parameters: not a template


@pytest.mark.parametrize("lang, expected", [
    ("zh", "号码 '1380013800' 无效"), ("en", "invalid phone number '1380013800'")])
def test_error_text_speaks_the_pages_language(app, lang, expected):
    with app.test_request_context():
        from flask import session

        session["lang"] = lang
        assert error_text(InvalidInput("invalid phone number %(raw)r", raw="1380013800")) == expected


def test_error_text_translates_field_names_units_and_shows_times_in_beijing(app):
    from datetime import datetime

    from domain.bounds import DAYS

    with app.test_request_context():
        with pytest.raises(InvalidInput) as refused:
            DAYS.check(0, "days")
        assert error_text(refused.value) == "天数 必须在 1 到 3660 天之间，收到的是 0"
        leased = InvalidInput("%(number)s is already leased to another tenant until %(until)s",
                              number="+862150000001", until=datetime(2026, 11, 23, 2, 0))
        assert str(leased).endswith("until 2026-11-23 02:00 UTC")
        assert error_text(leased) == "+862150000001 已租给其他租户，至 2026-11-23 10:00 北京时间"

# Every page in both languages: tests/admin/test_language_scan.py
