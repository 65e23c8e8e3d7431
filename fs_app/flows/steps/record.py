"""Recording a call (B2: only after an explicit agree key), to
``<recording_dir>/<tenant>/<YYYY-MM-DD>/<callee uuid>.<format>``.

The day is the UTC day the recording started; the tenant directory keeps D2 deletion and the
retention job (models.retention) inside one tenant's files.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from domain.clock import utcnow

from fs_app.channel import Channel
from fs_app.prompts.store import check_tenant_code

log = logging.getLogger("fsapp.flows.record")


def recording_path(settings, tenant_code: str, callee_uuid: str, started: datetime) -> str:
    root = Path(settings.recording_dir)
    code = check_tenant_code(tenant_code)
    if not callee_uuid or "/" in callee_uuid or callee_uuid.startswith("."):
        raise ValueError(f"bad callee uuid {callee_uuid!r}")
    return str(root / code / started.strftime("%Y-%m-%d") / f"{callee_uuid}.{settings.recording_format}")


def start_recording(channel: Channel, settings, tenant_code: str, uuid: str) -> str:
    """``record_session`` of the leg ``uuid`` to its path (returned: the record's evidence)."""
    path = recording_path(settings, tenant_code, uuid, utcnow())
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # shared with FreeSWITCH (compose)
    except OSError:
        pass  # FreeSWITCH's own path on another host: record_session creates it there
    channel.record_session(path)
    log.info("recording to %s", path)
    return path
