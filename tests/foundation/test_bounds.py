"""Range checks (domain.bounds): every number an operator types or a file carries is checked
against a named bound. Out of range is bad input: exit 2, one line naming the argument and the
range, nothing written; the model functions the admin calls refuse the same values."""
from datetime import datetime

import pytest

import models
from models import Tenant
from models.ledger import posting
from models.ledger import topups
from models.lists import list_entries
from models.seats import number_leases
from models.seats import seats
from models.tenancy import campaigns
from models.tenancy import tenants
from domain import bounds
from models.ledger.posting import verify_tenant_ledger
from domain.bounds import INT64_MAX, OutOfRange
from domain.clock import pinned

NOW = datetime(2026, 11, 23, 2, 0, 0)  # a Monday, 10:00 in Shanghai: inside the calling windows
AT = "2026-11-23T10:00:00+08:00"
SEAT = "1001@pbx.example.com"
CALLEE = "13922200000"  # a Guangzhou mobile, local to the Guangzhou lease
HUGE = "99999999999999999999999"


def snapshot():
    """Every row of every table: 'nothing written' means this is unchanged."""
    return {m.__name__: sorted(tuple(sorted(r.items())) for r in m.select().dicts().iterator())
            for m in models.ALL_MODELS}


@pytest.fixture
def world(db):
    """An active tenant that can call CALLEE at NOW (the clock stands at NOW while it is made)."""
    with pinned(NOW):
        tenants.add_tenant("acme", name="Acme", display_name="爱客米", hotline="4008123456", seats=2, rate=12)
        tenants.set_tenant("acme", status="active")
        topups.topup("acme", 20_000)
        number_leases.lease_number("acme", "02012345678")
        campaigns.add_campaign("acme", "spring", script="您好，我是爱客米的客服。")
        campaigns.review_campaign("acme", "spring", approve=True)
        seats.add_seat("acme", SEAT, campaign="spring")
        list_entries.add_consent("acme", CALLEE, source="web form")
    return Tenant.get(Tenant.code == "acme")


def assert_refused(cli, argv, fragment):
    before = snapshot()
    result = cli(*argv)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.err, result.err
    assert fragment in lines[0], result.err
    assert snapshot() == before


TIME_RANGE = "between 1970-01-01 and 8999-12-31T23:59:59Z"

# (argv, what the one line must say: the argument and its range)
OUT_OF_RANGE = [
    # seen on the product
    (["topup", "acme", HUGE], "argument FEN: must be between 1 and 1000000000000 fen, got " + HUGE),
    (["tenant", "add", "big", "--name", "B", "--display-name", "B", "--hotline", "4008123456",
      "--seats", "99999999999999999999", "--rate", "1"], "argument --seats: must be between 0 and 100000, got"),
    (["number", "lease", "acme", "02012345679", "--days", "99999999"],
     "argument --days: must be between 1 and 3660 days, got 99999999"),
    # every other number argument
    (["topup", "acme", "1000000000001", "--promo"], "argument FEN: must be between 1 and 1000000000000 fen"),
    (["topup", "acme", "9" * 5000], "argument FEN: must be between 1 and 1000000000000 fen, got a number of 5000 digits"),
    (["tenant", "add", "big", "--name", "B", "--display-name", "B", "--hotline", "4008123456", "--seats", "1",
      "--rate", "100000001"], "argument --rate: must be between 0 and 100000000 fen"),
    (["tenant", "add", "big", "--name", "B", "--display-name", "B", "--hotline", "4008123456", "--seats", "1",
      "--rate", "1", "--inbound-rate", HUGE], "argument --inbound-rate: must be between 0 and 100000000 fen"),
    (["tenant", "add", "big", "--name", "B", "--display-name", "B", "--hotline", "4008123456", "--seats", "1",
      "--rate", "1", "--connect-fee", HUGE], "argument --connect-fee: must be between 0 and 100000000 fen"),
    (["tenant", "add", "big", "--name", "B", "--display-name", "B", "--hotline", "4008123456", "--seats", "1",
      "--rate", "1", "--seat-rent", HUGE], "argument --seat-rent: must be between 0 and 100000000 fen"),
    (["tenant", "set", "acme", "--seats", "100001"], "argument --seats: must be between 0 and 100000, got 100001"),
    (["tenant", "set", "acme", "--rate", HUGE], "argument --rate: must be between 0 and 100000000 fen"),
    (["tenant", "set", "acme", "--inbound-rate", "-1"], "argument --inbound-rate: must be between 0 and 100000000 fen"),
    (["tenant", "set", "acme", "--connect-fee", HUGE], "argument --connect-fee: must be between 0 and 100000000 fen"),
    (["seat", "add", "acme", "1002@pbx.example.com", "--days", "3661"],
     "argument --days: must be between 1 and 3660 days, got 3661"),
    (["number", "lease", "acme", "02012345679", "--monthly-fee", HUGE],
     "argument --monthly-fee: must be between 0 and 100000000 fen"),
    (["number", "lease", "acme", "02012345679", "--max-calls", "1000001"],
     "argument --max-calls: must be between 1 and 1000000, got 1000001"),
    (["ledger", "refund", "acme", HUGE, "--note", "x"], "argument FEN: must be between 1 and 1000000000000 fen"),
    (["ledger", "adjust", "acme", "0", "--note", "x"], "argument FEN: must be between 1 and 1000000000000 fen, got 0"),
    (["calls", "--limit", HUGE], "argument --limit: must be between 1 and 1000000 rows"),
    (["complaint", "answer", "99999999999999999999", "--text", "x"],
     "argument id: must be between 1 and 2147483647, got 99999999999999999999"),
    # times: an offset past year 9999 or before year 1 overflowed; far times overflow the rules' arithmetic
    (["tenant", "ban", "acme", "--function", "outbound", "--until", "9999-12-31T23:59:59-05:00"],
     "argument --until: date/time '9999-12-31T23:59:59-05:00' must be " + TIME_RANGE),
    (["consent", "add", "acme", "13922200002", "--source", "web", "--expires", "0001-01-01T00:00:00+05:00"],
     "argument --expires: date/time '0001-01-01T00:00:00+05:00' must be " + TIME_RANGE),
    (["calls", "--since", "1969-12-31T23:59:59Z"], "argument --since: date/time '1969-12-31T23:59:59Z' must be"),
    (["check", "--seat", SEAT, "--to", CALLEE, "--at", "9999-12-31T23:59:59"], "argument --at: date/time"),
    (["jobs", "run", "--at", "9999-12-31T23:59:59"], "argument --at: date/time '9999-12-31T23:59:59' must be"),
    (["retention", "run", "--dry-run", "--at", "9000-01-01T00:00:00"], "argument --at: date/time"),
    (["statement", "acme", "--month", "9999-12"], "month '9999-12' must be between 1970-01 and 8999-12"),
    (["statement", "acme", "--month", "0001-01"], "month '0001-01' must be between 1970-01 and 8999-12"),
    # numbers inside other arguments: ports, calling windows, phone numbers
    (["serve", "--esl", "127.0.0.1:" + HUGE], "argument --esl: must be <= 65535, got " + HUGE),
    (["serve", "--http", "127.0.0.1:65536"], "argument --http: must be <= 65535, got 65536"),
    (["tenant", "set", "acme", "--windows", "09:00-12:00,14:00-18:" + HUGE], "is not HH:MM"),
    (["tenant", "set", "acme", "--windows", "09:00-12:00,14:00-99:00"], "'99:00' is not a time of day"),
    (["consent", "add", "acme", "1" * 400, "--source", "web"], "invalid phone number"),
    (["dnc", "add", "9" * 400], "invalid phone number"),
    (["complaint", "add", "acme", "1" * 400, "--channel", "hotline"], "invalid phone number"),
]


@pytest.mark.parametrize("argv, fragment", OUT_OF_RANGE, ids=[" ".join(a[:3])[:40] for a, _ in OUT_OF_RANGE])
def test_out_of_range_argument_exits_2_with_one_line_and_writes_nothing(cli, world, argv, fragment):
    with pinned(NOW):
        assert_refused(cli, argv, fragment)


@pytest.mark.parametrize("argv", [
    ["tenant", "set", "acme", "--seats", "100000", "--rate", "100000000", "--connect-fee", "100000000"],
    ["seat", "add", "acme", "1002@pbx.example.com", "--days", "3660"],
    ["number", "lease", "acme", "02012345679", "--days", "3660", "--max-calls", "1000000"],
    ["topup", "acme", "1000000000000"],
    ["calls", "--limit", "1000000"],
    ["consent", "add", "acme", "13922200002", "--source", "web", "--expires", "8999-12-31T23:59:59Z"],
    ["tenant", "ban", "acme", "--function", "outbound", "--until", "8999-12-31T23:59:59Z"],
    ["statement", "acme", "--month", "8999-12"],
    ["check", "--seat", SEAT, "--to", CALLEE, "--at", "8999-12-31T23:59:59Z"],
    ["jobs", "run", "--at", "8999-12-31T23:59:59Z"],
    ["jobs", "run", "--at", "1970-01-01T00:00:00Z"],
    ["retention", "run", "--dry-run", "--at", "8999-12-31T23:59:59Z"],
    ["calls", "--since", "1970-01-01T00:00:00Z"],
    ["statement", "acme", "--month", "1970-01"],
], ids=lambda argv: " ".join(argv[:2]))
def test_the_largest_values_in_range_are_accepted(cli, world, argv):
    with pinned(NOW):
        result = cli(*argv)
    assert result.code in (0, 3), result  # check far in the future: blocked (expired seat), not an error
    assert "Traceback" not in result.err


def test_a_topup_past_the_balance_column_is_refused(cli, world):
    with pinned(NOW):
        posting.post(world.id, "topup", INT64_MAX - 20_000 - 100)  # a balance near 2^63, ledger consistent
        assert_refused(cli, ["topup", "acme", "101"],
                       "topup of 101 fen refused: the balance would be 9223372036854775808 fen, "
                       "more than the 9223372036854775807 fen a balance can hold")
        assert_refused(cli, ["topup", "acme", "101", "--promo"], "the balance would be 9223372036854775808 fen")
        assert cli("topup", "acme", "100").code == 0  # exactly full
    tenant = Tenant.get_by_id(world.id)
    assert tenant.balance_fen == INT64_MAX and verify_tenant_ledger(tenant) == []


def test_a_huge_balance_still_calls(cli, world, settings):
    """A balance near 2^63 at a low rate buys more seconds than the 32-bit duration column holds:
    admission caps the maximum duration at bounds.MAX_TALK_SECONDS instead of failing."""
    from fs_app.admission import admit
    from fs_app.policy import CallRequest

    with pinned(NOW):
        posting.post(world.id, "topup", INT64_MAX - 20_000)
        result = cli("check", "--seat", SEAT, "--to", CALLEE, "--at", AT)
        assert result.code == 0, result
        assert f"max duration: {bounds.MAX_TALK_SECONDS // 60 * 60} s" in result.out
        admission = admit(CallRequest(call_uuid="agent-1", dialled=CALLEE, seat_address=SEAT, authenticated=True),
                          NOW, settings)
    assert admission.allowed and admission.max_duration_s == bounds.MAX_TALK_SECONDS // 60 * 60
    assert models.CallRecord.get(models.CallRecord.agent_uuid == "agent-1").max_duration_s == admission.max_duration_s


# --- the model layer (what the web admin calls) ---------------------------------------------

def _overdraw_past_the_column(code):
    tenant_id = Tenant.get(Tenant.code == code).id
    with models.write_transaction():  # one transaction: the first posting is rolled back with the refusal
        posting.post(tenant_id, "adjust", -(2**63))  # 20000 - 2^63: still inside
        posting.post(tenant_id, "adjust", -20_001)


@pytest.mark.parametrize("call, fragment", [
    (lambda: tenants.add_tenant("big", name="B", display_name="B", hotline="4008123456", seats=10**20, rate=1),
     "seats must be between 0 and 100000"),
    (lambda: tenants.add_tenant("big", name="B", display_name="B", hotline="4008123456", seats=1,
                                     rate=1, billing_increment_s=3601), "billing increment must be between 1 and 3600"),
    (lambda: tenants.set_tenant("acme", seats=100_001), "seats must be between 0 and 100000"),
    (lambda: tenants.set_tenant("acme", rate=2**31), "rate must be between 0 and 100000000 fen"),
    (lambda: seats.add_seat("acme", "1002@pbx.example.com", days=10**8), "days must be between 1 and 3660"),
    (lambda: number_leases.lease_number("acme", "02012345679", days=10**8), "days must be between 1 and 3660"),
    (lambda: number_leases.lease_number("acme", "02012345679", monthly_fee=10**30),
     "monthly fee must be between 0 and 100000000 fen, got a number of more than 24 digits"),
    (lambda: number_leases.lease_number("acme", "02012345679", max_calls=2**40), "max calls must be between 1 and 1000000"),
    (lambda: topups.topup("acme", 10**23), "amount must be between 1 and 1000000000000 fen"),
    (lambda: tenants.ban_tenant("acme", function="outbound", until=datetime(9999, 1, 1)),
     "the ban's end time must be between 1970-01-01"),
    (lambda: list_entries.add_consent("acme", "13922200002", source="web", expires_at=datetime(9999, 1, 1)),
     "expires_at must be between 1970-01-01"),
    (lambda: posting.post(Tenant.get(Tenant.code == "acme").id, "adjust", -(2**64)),
     "adjust of -18446744073709551616 fen refused: an amount must be between -9223372036854775808 and"),
    (lambda: _overdraw_past_the_column("acme"),
     "the balance would be -9223372036854775809 fen, less than the -9223372036854775808 fen a balance can hold"),
])
def test_model_functions_refuse_the_same_values(world, call, fragment):
    before = snapshot()
    with pinned(NOW), pytest.raises(OutOfRange) as refused:
        call()
    assert fragment in str(refused.value) and "\n" not in str(refused.value)
    assert snapshot() == before


# --- CSV and CDR files ----------------------------------------------------------------------

def test_csv_times_and_numbers_out_of_range_are_bad_rows(cli, world, tmp_path):
    path = tmp_path / "consent.csv"
    path.write_text("number,source,obtained_at,expires_at\n"
                    "13922200002,web,,\n"
                    "13922200003,web,,9999-12-31T23:59:59-05:00\n"
                    "13922200004,web,0001-01-01T00:00:00+05:00,\n"
                    "13922200005,web,1969-12-31T00:00:00Z,\n"
                    f"{'1' * 400},web,,\n", encoding="utf-8")
    with pinned(NOW):
        before = snapshot()
        strict = cli("consent", "import", "acme", str(path), "--strict")
        assert strict.code == 2 and snapshot() == before
        result = cli("consent", "import", "acme", str(path))
    assert result.code == 1, result
    assert "imported 1 row(s); 4 bad row(s)" in result.out
    assert f"{path}:3: date/time '9999-12-31T23:59:59-05:00' must be {TIME_RANGE}" in result.err
    assert f"{path}:4: date/time '0001-01-01T00:00:00+05:00' must be {TIME_RANGE}" in result.err
    assert f"{path}:5: date/time '1969-12-31T00:00:00Z' must be {TIME_RANGE}" in result.err
    assert f"{path}:6: invalid phone number" in result.err
    assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 4


@pytest.mark.parametrize("variables, fragment", [
    ({"billusec": str(10**30)}, "billed time a number of more than 24 digits us is not between 0 and 2147483647 s"),
    ({"billsec": "-5"}, "billed time -5000000 us is not between 0"),
    ({"end_uepoch": str(10**30)}, "end time is not between 1970-01-01"),
    ({"answer_uepoch": str(300_000_000_000 * 10**6)}, "answer time is not between 1970-01-01"),
])
def test_cdr_numbers_out_of_range_make_a_bad_cdr(variables, fragment):
    from fs_app.cdr import BadCdr, parse_cdr

    document = {"variables": {"uuid": "b-1", "direction": "outbound", "answer_uepoch": "1795000000000000",
                              "end_uepoch": "1795000060000000", **variables}}
    with pytest.raises(BadCdr, match=fragment.replace("(", r"\(")):
        parse_cdr(document)


def test_bounds_have_reasons_and_fit_their_columns():
    for name in dir(bounds):
        bound = getattr(bounds, name)
        if isinstance(bound, bounds.Bound):
            assert bound.low <= bound.high and len(bound.reason) > 20, name
    for bound in (bounds.PRICE_FEN, bounds.SEATS, bounds.NUMBER_MAX_CALLS, bounds.BILLING_INCREMENT_S):
        assert bound.high <= bounds.INT32_MAX  # PostgreSQL INTEGER columns
    assert bounds.AMOUNT_FEN.high <= bounds.BALANCE_FEN.high == INT64_MAX
