"""How many call workers the supervisor of `fsapp serve --web-process` runs now, as a small JSON
file it rewrites on every change and the web worker reads for /readyz.

The web worker serves no calls, so "is the Event Socket listening" is not its own fact to check;
the supervisor, which starts and reaps the call workers, is the one process that knows. A file
(replaced atomically) needs no connection between the processes and survives a web worker
restart: a fresh web worker reads the current state at once.

    {"running": 2, "of": 2, "stopping": false}
"""
from __future__ import annotations

import json
import os


class CallWorkersStatus:
    def __init__(self, path: str):
        self.path = path

    def write(self, running: int, of: int, stopping: bool) -> None:
        partial = f"{self.path}.{os.getpid()}.tmp"
        with open(partial, "w") as file:
            json.dump({"running": running, "of": of, "stopping": stopping}, file)
        os.replace(partial, self.path)  # a reader sees the old state or the new, never half of one

    def read(self) -> dict:
        with open(self.path) as file:
            return json.load(file)

    def ready(self) -> str:
        """The /readyz check: "ok" while at least one call worker runs and nothing is draining
        (the others take the calls while one restarts); raises with the reason otherwise."""
        state = self.read()
        if state["stopping"]:
            raise RuntimeError("draining")
        if state["running"] < 1:
            raise RuntimeError(f"no call worker running (0 of {state['of']})")
        return "ok"

    def remove(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
