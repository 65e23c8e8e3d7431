"""A separate OS process for the concurrency tests. Once set up it prints ``ready`` and waits
for a ``go`` line on stdin: the test says go when every worker is ready, so that the workers
really overlap however long each took to start. Then:

python -m tests.metering.charge_worker charge DATABASE_URL DATA_DIR UUID...
    reports every call it is given as hung up (app and CDR reports alternating) and prints how
    many charges it posted;
python -m tests.metering.charge_worker ingest DATABASE_URL DATA_DIR PATH...
    prints ``ingesting`` after the go, then ingests the CDR files and prints the report as JSON;
python -m tests.metering.charge_worker jobs AT
    runs `fsapp jobs run --at AT` (database from the FSAPP_* environment) and exits with its code.
"""
import sys
from datetime import datetime, timedelta


def ready_then_wait_for_go() -> None:
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        sys.exit("charge_worker: no go from the test")


def charge(url, data_dir, *uuids):
    import models
    from models.calls.billing import charge_call

    models.open_database(url, data_dir, pool_size=2)
    answered = datetime(2027, 1, 5, 10, 0, 0)
    ready_then_wait_for_go()
    posted = 0
    for index, callee_uuid in enumerate(uuids):
        talk = 30 + (sum(map(ord, callee_uuid)) % 100)  # same talk time whichever worker reports it
        result = charge_call(callee_uuid, source="app" if index % 2 else "cdr", answered_at=answered,
                             ended_at=answered + timedelta(seconds=talk), billsec=talk)
        posted += int(result.charged_now)
    print(posted)
    return 0


def ingest(url, data_dir, *paths):
    import dataclasses
    import json

    import models
    from fs_app import cdr

    models.open_database(url, data_dir, pool_size=2)
    ready_then_wait_for_go()
    print("ingesting", flush=True)
    report = cdr.ingest(list(paths))
    print(json.dumps(dataclasses.asdict(report)))
    return 0


def jobs(at):
    from fs_app.cli import build_parser, main

    build_parser()  # import everything before the start line
    ready_then_wait_for_go()
    return main(["jobs", "run", "--at", at])


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    sys.exit({"charge": charge, "ingest": ingest, "jobs": jobs}[mode](*args))
