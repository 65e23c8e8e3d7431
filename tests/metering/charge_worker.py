"""A separate OS process for the concurrency tests. Waits until the wall-clock time START_AT so
that two workers really overlap, then:

python -m tests.metering.charge_worker charge DATABASE_URL DATA_DIR START_AT UUID...
    reports every call it is given as hung up (app and CDR reports alternating) and prints how
    many charges it posted;
python -m tests.metering.charge_worker jobs START_AT AT
    runs `fsapp jobs run --at AT` (database from the FSAPP_* environment) and exits with its code.
"""
import sys
import time
from datetime import datetime, timedelta


def wait_until(start_at: str) -> None:
    while time.time() < float(start_at):
        time.sleep(0.002)


def charge(url, data_dir, start_at, *uuids):
    import models
    from models.billing import charge_call

    models.open_database(url, data_dir, pool_size=2)
    answered = datetime(2027, 1, 5, 10, 0, 0)
    wait_until(start_at)
    posted = 0
    for index, callee_uuid in enumerate(uuids):
        talk = 30 + (sum(map(ord, callee_uuid)) % 100)  # same talk time whichever worker reports it
        result = charge_call(callee_uuid, source="app" if index % 2 else "cdr", answered_at=answered,
                             ended_at=answered + timedelta(seconds=talk), billsec=talk)
        posted += int(result.charged_now)
    print(posted)
    return 0


def jobs(start_at, at):
    from fs_app.cli import build_parser, main

    build_parser()  # import everything before the start line
    wait_until(start_at)
    return main(["jobs", "run", "--at", at])


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    sys.exit({"charge": charge, "jobs": jobs}[mode](*args))
