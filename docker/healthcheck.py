"""Container health checks (the image has no curl).

    healthcheck.py url http://127.0.0.1:8080/healthz     healthy when the URL answers 200
    healthcheck.py heartbeat /tmp/fsapp-jobs.heartbeat 300
                                                         healthy when the file changed in the last 300 s
Exit code 0 healthy, 1 unhealthy (the reason on stdout, which Docker keeps in the health log).
"""
from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request


def check_url(url: str, timeout: float = 3.0) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if response.status == 200 else f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"{url}: HTTP {error.code}"
    except OSError as error:
        return f"{url}: {error}"


def check_heartbeat(path: str, max_age_s: float) -> str | None:
    try:
        age = time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return f"{path}: no successful run yet"
    return None if age <= max_age_s else f"{path}: last successful run {age:.0f} s ago"


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "url":
        problem = check_url(argv[1])
    elif len(argv) == 3 and argv[0] == "heartbeat":
        problem = check_heartbeat(argv[1], float(argv[2]))
    else:
        print(__doc__.strip().splitlines()[0])
        print("usage: healthcheck.py url URL | heartbeat PATH MAX_AGE_S")
        return 2
    if problem:
        print(problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
