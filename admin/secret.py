"""The session signing key: the ``secret_key`` setting, else one generated once into
``<data_dir>/secret_key`` (mode 0600) so sessions survive restarts and every process shares it."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

SECRET_FILENAME = "secret_key"


def load_secret_key(settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = Path(settings.data_dir) / SECRET_FILENAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            raise RuntimeError(f"{path} holds a key shorter than 32 characters: delete it or set secret_key")
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
