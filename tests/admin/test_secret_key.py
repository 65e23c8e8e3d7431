"""The generated session key under concurrent start-up: several processes that start at once on a
fresh data directory must all read the same, complete key."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROCESSES = 6
ROUNDS = 150

# Each child loads the key for every directory named on its stdin and prints it (or the error).
# The children block on stdin, so one line written to all of them starts them together: no sleeps.
CHILD = r"""
import sys, types
from admin.secret import load_secret_key
print("ready", flush=True)
for line in sys.stdin:
    try:
        key = load_secret_key(types.SimpleNamespace(secret_key="", data_dir=line.rstrip("\n")))
    except Exception as exc:
        key = f"ERROR {type(exc).__name__}: {exc}".replace("\n", " ")
    print(key, flush=True)
"""


def test_processes_starting_at_once_on_a_fresh_directory_share_one_complete_key(tmp_path):
    children = [subprocess.Popen([sys.executable, "-c", CHILD], cwd=REPO, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, text=True, bufsize=1) for _ in range(PROCESSES)]
    try:
        assert [child.stdout.readline().strip() for child in children] == ["ready"] * PROCESSES
        for round_number in range(ROUNDS):
            data_dir = tmp_path / f"round{round_number}" / "data"  # not created yet, like a fresh volume
            for child in children:
                child.stdin.write(f"{data_dir}\n")
                child.stdin.flush()
            keys = [child.stdout.readline().strip() for child in children]
            assert all(not key.startswith("ERROR") for key in keys), (round_number, keys)
            assert len(set(keys)) == 1 and len(keys[0]) >= 32, (round_number, keys)
            key_file = data_dir / "secret_key"
            assert key_file.read_text(encoding="ascii") == keys[0] + "\n"
            assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
            assert sorted(p.name for p in data_dir.iterdir()) == ["secret_key"]  # no temporary files left
    finally:
        for child in children:
            child.stdin.close()
        for child in children:
            child.wait(timeout=30)
