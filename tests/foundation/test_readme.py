"""The README is a contract too: two set-up commands at the top, and a quickstart that works."""
import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```(?:sh|bash)\n(.*?)```", text, flags=re.S)


def test_exactly_two_setup_commands_at_the_top():
    text = README.read_text(encoding="utf-8")
    first = code_blocks(text)[0]
    commands = [line for line in first.splitlines() if line.strip()]
    assert len(commands) == 2
    assert "bin/setup" in commands[0] and "fsapp serve" in commands[0]
    assert commands[1].split()[0] == "bin/test"
    assert text.index("```") < text.index("## ")  # before any section


def test_ci_runs_the_readme_test_command():
    ci = (README.parent / ".ci" / "run").read_text()
    assert "bin/test" in ci


def test_quickstart_runs_through_the_real_fsapp_command(tmp_path):
    text = README.read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1]
    script = code_blocks(quickstart)[0]
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "FSAPP_DATA_DIR": str(tmp_path / "data"), "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    env.pop("FSAPP_DATABASE_URL", None)
    env.pop("FSAPP_CONFIG", None)
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert "status: active" in result.stdout
    assert "balance_fen: 15000" in result.stdout  # 20000 topped up, 5000 first month's number rent
