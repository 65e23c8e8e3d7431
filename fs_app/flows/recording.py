"""Where a call's recording goes: ``<recording_dir>/<tenant>/<YYYY-MM-DD>/<callee uuid>.<format>``.

The day is the UTC day the recording started; the tenant directory keeps D2 deletion and the
retention job (models.retention) inside one tenant's files.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fs_app.prompts.store import check_tenant_code


def recording_path(settings, tenant_code: str, callee_uuid: str, started: datetime) -> str:
    root = Path(settings.recording_dir)
    code = check_tenant_code(tenant_code)
    if not callee_uuid or "/" in callee_uuid or callee_uuid.startswith("."):
        raise ValueError(f"bad callee uuid {callee_uuid!r}")
    return str(root / code / started.strftime("%Y-%m-%d") / f"{callee_uuid}.{settings.recording_format}")
