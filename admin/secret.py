"""The session signing key: the ``secret_key`` setting, else one generated once into
``<data_dir>/secret_key`` (mode 0600) so sessions survive restarts and every process shares it."""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

SECRET_FILENAME = "secret_key"


def load_secret_key(settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        _create_once(path, secrets.token_urlsafe(48))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise RuntimeError(f"{path} holds a key shorter than 32 characters: delete it or set secret_key")
    return key


def _create_once(path: Path, key: str) -> None:
    """Write the key to a private file, then link it into place: the workers of
    `fsapp serve --workers` start together, and none may read a half-written key. The link fails
    when another process was first; its key is then the one everybody uses."""
    fd, temporary = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)
