"""pyproject.toml: the license in the form setuptools keeps building (the TOML-table form warns on
every install and stops building on 2027-02-18), with a build requirement that understands it."""
import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_license_is_an_spdx_string_and_the_build_needs_setuptools_77():
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    assert project["project"]["license"] == "MIT"  # SPDX expression (PEP 639), not {text = ...}
    assert not any(c.startswith("License ::") for c in project["project"].get("classifiers", []))  # refused with it
    setuptools = [r for r in project["build-system"]["requires"] if re.match(r"setuptools\b", r)]
    assert len(setuptools) == 1
    minimum = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools[0].replace(" ", ""))
    assert minimum and int(minimum.group(1)) >= 77, setuptools
