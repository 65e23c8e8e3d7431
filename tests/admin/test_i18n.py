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
