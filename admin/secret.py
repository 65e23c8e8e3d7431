"""The session signing key: the ``secret_key`` setting, else one generated once into
``<data_dir>/secret_key`` (mode 0600) so sessions survive restarts and every process shares it."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

SECRET_FILENAME = "secret_key"
MIN_KEY_LENGTH = 32


def load_secret_key(settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _publish(path, secrets.token_urlsafe(48))
    return _read(path)


def _publish(path: Path, key: str) -> None:
    """Put a complete key file at ``path`` unless one is there already.

    Several processes may start at once on a fresh data directory. Each writes its key to a
    private temporary file next to ``path`` and hard-links it into place: the link appears with
    its content already written, and fails if another process linked first, so every process
    ends up reading the one key that won, never an empty or half-written file."""
    fd, temporary = tempfile.mkstemp(prefix=f".{SECRET_FILENAME}.", suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process published first: its key is the one
    finally:
        os.unlink(temporary)


def _read(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_LENGTH:
        raise RuntimeError(f"{path} holds a key shorter than {MIN_KEY_LENGTH} characters: delete it or set secret_key")
    return key
