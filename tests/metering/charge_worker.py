"""A separate OS process that charges calls or runs the jobs, for the concurrency tests:
python -m tests.metering.charge_worker DATABASE_URL DATA_DIR START_AT UUID...

Waits until the wall-clock time START_AT (so two workers really overlap), then reports every call
it is given as hung up, app-style, and prints how many charges it posted."""
import sys
import time
from datetime import datetime, timedelta

import models
from models.billing import charge_call


def main(argv):
    url, data_dir, start_at, uuids = argv[0], argv[1], float(argv[2]), argv[3:]
    models.open_database(url, data_dir, pool_size=2)
    answered = datetime(2027, 1, 5, 10, 0, 0)
    while time.time() < start_at:
        time.sleep(0.005)
    posted = 0
    for index, callee_uuid in enumerate(uuids):
        talk = 30 + (sum(map(ord, callee_uuid)) % 100)  # same talk time whichever worker reports it
        result = charge_call(callee_uuid, source="app" if index % 2 else "cdr", answered_at=answered,
                             ended_at=answered + timedelta(seconds=talk), billsec=talk)
        posted += int(result.charged_now)
    print(posted)


if __name__ == "__main__":
    main(sys.argv[1:])
