"""The README is a contract too: two set-up commands at the top, and a quickstart that works."""
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


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


def quickstart_script() -> str:
    text = README.read_text(encoding="utf-8")
    return code_blocks(text.split("## Quickstart", 1)[1])[0]


def clone_state() -> tuple[str, list]:
    """What the clone looks like: git's view, plus the default data directory (ignored by git)."""
    status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    default_data = REPO / "var"
    files = sorted((str(path.relative_to(REPO)), path.stat().st_size, path.stat().st_mtime_ns)
                   for path in default_data.rglob("*") if path.is_file()) if default_data.exists() else []
    return status, files


def test_quickstart_runs_as_written_twice_and_writes_nothing_into_the_clone(tmp_path):
    """The block exactly as a reader pastes it, from the clone, twice in a row: both runs succeed
    (a fresh database each), the dry-run call at the end is allowed, and the clone is unchanged."""
    script = quickstart_script()
    bin_dir = Path(sys.executable).parent
    env = {key: value for key, value in os.environ.items() if not key.startswith("FSAPP_")}
    env.update(PATH=f"{bin_dir}:{os.environ['PATH']}", TMPDIR=str(tmp_path))  # mktemp -d lands in tmp_path
    before = clone_state()
    for run in (1, 2):
        result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, (run, result.stdout[-2000:], result.stderr)
        assert "status: active" in result.stdout
        assert "balance_fen: 15000" in result.stdout  # 20000 topped up, 5000 first month's number rent
        assert "ALLOWED: 1001@pbx.example.com -> +8613922200000" in result.stdout, result.stdout
        assert "BLOCKED" not in result.stdout
    assert clone_state() == before
    assert len(list(tmp_path.glob("*/fsapp.db"))) == 2  # one fresh database per run, outside the clone
