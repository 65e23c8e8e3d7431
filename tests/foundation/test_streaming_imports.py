"""CSV imports stream their file and commit in chunks (issue 14): the report keeps its line
numbers, a NUL byte is a row error on both databases, a re-run after an interruption finishes the
import without duplicating a row, and --strict still writes nothing when a row is bad."""
import io

import pytest

from models import Consent, DoNotCall
from models.lists import list_entries
from models.tenancy import tenants
from models.complaints.audit import AuditLog
from models.csv_import import ImportReport, built_rows


@pytest.fixture
def acme(db):
    tenants.add_tenant("acme", name="Acme", display_name="Acme", hotline="4001234567", seats=2, rate=10)
    return tenants.get_tenant("acme")


def numbers(count, start=0):
    return [f"+86138{n:08d}" for n in range(start, start + count)]


def dnc_csv(rows):
    """number,reason lines; a row given with its own comma keeps its reason."""
    return "number,reason\n" + "".join((row if "," in row else f"{row},list") + "\n" for row in rows)


class Interrupted(Exception):
    pass


def test_a_large_import_is_written_in_chunks_and_reports_every_bad_line(acme):
    rows = numbers(2_500)
    rows[10] = "13800\x0000000,nul in the middle"  # line 12
    rows[2_000] = "not-a-number,x"  # line 2002
    seen = []
    report = list_entries.import_dnc(io.StringIO(dnc_csv(rows)), tenant_code="acme", chunk_rows=1_000,
                                on_chunk=lambda r: seen.append((r.imported, DoNotCall.select().count())))
    assert (report.imported, report.chunks, report.skipped_duplicates) == (2_498, 3, 0)
    # after each chunk's commit, exactly what it wrote is visible to everyone
    assert seen == [(1_000, 1_000), (2_000, 2_000), (2_498, 2_498)]
    assert [(line, str(error)) for line, error in report.errors] == [
        (12, "the row contains a NUL byte"), (2002, "invalid phone number 'not-a-number'")]
    assert AuditLog.select().where(AuditLog.action == "dnc.import").count() == 1


def test_a_nul_byte_is_a_row_error_from_the_cli_on_both_databases(cli, acme, tmp_path):
    path = tmp_path / "consent.csv"
    path.write_bytes(b"number,source,evidence\n13800138000,web,F-1\n13900139000,we\x00b,F-2\n"
                     b"13700137000,web,F-\x003\n")
    result = cli("consent", "import", "acme", str(path))
    assert result.code == 1 and "Traceback" not in result.err, result
    assert f"{path}:3: the row contains a NUL byte" in result.err and f"{path}:4: the row contains" in result.err
    assert [c.number for c in Consent.select()] == ["+8613800138000"]


def test_bytes_that_are_not_utf8_after_the_header_end_the_import_with_a_row_error(acme):
    good = "".join(f"{n}\n" for n in numbers(3_000)).encode()
    raw = b"number\n" + good + b"\xff\xfe broken\n13911112222\n"
    report = list_entries.import_dnc(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""), tenant_code="acme")
    # the stream decodes in blocks: the rows of the block that holds the bad bytes are not imported
    # either, and the message says so by line number
    (line, error), = report.errors
    assert 1_000 < report.imported <= 3_000 and line == report.imported + 2
    assert str(error) == f"the file is not UTF-8 text from here on: nothing after line {line - 1} was imported"
    assert not DoNotCall.select().where(DoNotCall.number == "+8613911112222").exists()
    strict = list_entries.import_dnc(io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", newline=""),
                                tenant_code="acme", strict=True)
    assert not strict.written and strict.imported == 0


def test_an_interrupted_import_run_again_finishes_without_duplicates(acme):
    rows = numbers(2_500)
    text = dnc_csv(rows)

    def crash_after_first_chunk(report):
        raise Interrupted()  # the process died after the first commit

    with pytest.raises(Interrupted):
        list_entries.import_dnc(io.StringIO(text), tenant_code="acme", chunk_rows=1_000, on_chunk=crash_after_first_chunk)
    assert DoNotCall.select().count() == 1_000
    again = list_entries.import_dnc(io.StringIO(text), tenant_code="acme", chunk_rows=1_000)
    assert (again.imported, again.skipped_duplicates) == (1_500, 1_000)
    assert DoNotCall.select().count() == 2_500 == len({e.number for e in DoNotCall.select()})
    consent = "number,source,evidence\n" + "".join(f"{n},web,F-{i % 7}\n" for i, n in enumerate(rows))
    with pytest.raises(Interrupted):
        list_entries.import_consent("acme", consent, chunk_rows=1_000, on_chunk=crash_after_first_chunk)
    finished = list_entries.import_consent("acme", consent, chunk_rows=1_000)
    assert (finished.imported, finished.skipped_duplicates) == (1_500, 1_000)
    assert Consent.select().count() == 2_500


def test_duplicates_inside_one_chunk_and_across_chunks_are_skipped(acme):
    rows = numbers(5) * 3
    report = list_entries.import_dnc(dnc_csv(rows), tenant_code="acme", chunk_rows=4)
    assert (report.imported, report.skipped_duplicates, report.chunks) == (5, 10, 4)
    platform = list_entries.import_dnc(dnc_csv(rows), chunk_rows=4)  # another scope: its own entries
    assert platform.imported == 5 and DoNotCall.select().count() == 10


def test_strict_reads_twice_and_writes_nothing_if_any_row_is_bad(acme):
    rows = numbers(3_000) + ["bad,x"]
    report = list_entries.import_dnc(io.StringIO(dnc_csv(rows)), tenant_code="acme", strict=True, chunk_rows=1_000)
    assert not report.written and report.errors[0][0] == 3_002 and DoNotCall.select().count() == 0
    good = list_entries.import_dnc(io.StringIO(dnc_csv(rows[:-1])), tenant_code="acme", strict=True, chunk_rows=1_000)
    assert good.written and good.imported == 3_000 and good.chunks == 3


def test_rows_are_read_one_at_a_time_from_the_stream():
    class CountingStream(io.StringIO):
        lines_read = 0

        def __next__(self):
            CountingStream.lines_read += 1
            return super().__next__()

    stream = CountingStream("number\n" + "".join(f"{n}\n" for n in numbers(10_000)))
    rows = built_rows(stream, required=("number",), optional=(), build=lambda row: row["number"],
                      report=ImportReport())
    first = [next(rows) for _ in range(3)]
    assert [line for line, _ in first] == [2, 3, 4]
    assert CountingStream.lines_read < 10  # not the whole file
