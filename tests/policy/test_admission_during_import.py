"""Calls placed while a large do-not-call import runs are decided normally (issue 14): the import
commits chunk by chunk, and an admission made between two chunks, in another greenlet with its
own connection, sees exactly the rows committed so far."""
from datetime import timedelta

import gevent

from fs_app.admission import admit, release
from fs_app.policy import CallRequest
from models import DoNotCall
from models.lists import list_entries

from policy_world import CALLEE, NOW, SEAT, make_tenant

CHUNK = 500


def call(uuid):
    return CallRequest(call_uuid=uuid, dialled=CALLEE, seat_address=SEAT, authenticated=True)


def test_an_admission_between_chunks_of_a_running_import_is_decided_normally(db, settings):
    make_tenant()
    others = [f"+86139{n:08d}" for n in range(3 * CHUNK)]
    # the callee is in the last chunk: on the list only once that chunk has committed
    text = "number,reason\n" + "".join(f"{n},bulk\n" for n in others[:2 * CHUNK] + [CALLEE] + others[2 * CHUNK:])
    decisions = []

    def between_chunks(report):
        if report.chunks == 1:  # a call arrives while the import is under way
            admission = gevent.spawn(admit, call("during-import"), NOW, settings).get(timeout=30)
            decisions.append((admission.allowed, admission.codes, DoNotCall.select().count()))
            release("during-import", NOW + timedelta(seconds=30))

    importer = gevent.spawn(list_entries.import_dnc, text, tenant_code="acme", chunk_rows=CHUNK, on_chunk=between_chunks)
    report = importer.get(timeout=120)
    assert (report.imported, report.chunks, report.errors) == (3 * CHUNK + 1, 4, [])
    assert decisions == [(True, (), CHUNK)]
    later = admit(call("after-import"), NOW + timedelta(hours=1), settings)
    assert "DNC" in later.codes
