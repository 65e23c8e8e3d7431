"""The smallest and largest numbers the product accepts from people and files, in one place.

Each bound says why it is where it is: what a real value looks like, and what would break
beyond it (a 32-bit INTEGER or 64-bit BIGINT column on PostgreSQL, Python's dates ending in the
year 9999). The model functions check them, so the CLI and the web admin refuse the same values;
the CLI's argument types check them again before a database is opened, so that the message names
the option. Out of range is bad input: one line naming the value and the allowed range.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .errors import InvalidInput

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER: peewee IntegerField and the SERIAL row ids
INT64_MAX = 2**63 - 1  # PostgreSQL BIGINT, SQLite INTEGER: balances, ledger amounts, charges
_SHOWN_DIGITS = 24  # longer numbers are described, not echoed (str() of a huge int is refused)


class OutOfRange(InvalidInput):
    """A number or time outside its bound."""


def shown(value: int) -> str:
    if abs(value) < 10**_SHOWN_DIGITS:
        return str(value)
    return f"{'-' if value < 0 else ''}a number of more than {_SHOWN_DIGITS} digits"


@dataclass(frozen=True)
class Bound:
    low: int
    high: int
    unit: str  # shown after the range: "fen", "days", "" for plain counts
    reason: str

    @property
    def range_text(self) -> str:
        return f"between {self.low} and {self.high}{' ' + self.unit if self.unit else ''}"

    @property
    def _range(self) -> dict:
        """The parameters of the range in a message template."""
        return dict(low=self.low, high=self.high, **({"unit": self.unit} if self.unit else {}))

    def problem(self, value: int) -> str | None:
        """None when ``value`` is inside; otherwise the end of the message: 'must be between ...'."""
        if self.low <= value <= self.high:
            return None
        return f"must be {self.range_text}, got {shown(value)}"

    def check(self, value, what: str) -> int:
        """``value`` when it is a whole number inside the bound; OutOfRange naming ``what`` otherwise."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInput("%(what)s must be a whole number between %(low)s and %(high)s %(unit)s" if self.unit
                               else "%(what)s must be a whole number between %(low)s and %(high)s",
                               what=what, **self._range)
        if self.problem(value):
            raise OutOfRange("%(what)s must be between %(low)s and %(high)s %(unit)s, got %(value)s" if self.unit
                             else "%(what)s must be between %(low)s and %(high)s, got %(value)s",
                             what=what, value=shown(value), **self._range)
        return value


# --- money (integer fen, RULEBOOK C2) -------------------------------------------------------

PRICE_FEN = Bound(0, 100_000_000, "fen", "a rate per minute, connect fee, seat rent or monthly number fee: "
                  "1,000,000 CNY is far beyond any tariff, and the price columns are 32-bit INTEGERs")
AMOUNT_FEN = Bound(1, 1_000_000_000_000, "fen", "one top-up, refund or adjustment: 10,000,000,000 CNY is far "
                   "beyond any prepaid account, and millions of such entries still sum inside a BIGINT")
BALANCE_FEN = Bound(-INT64_MAX - 1, INT64_MAX, "fen", "a balance is a BIGINT column (and so is every "
                    "ledger entry's balance_after): a posting that would leave it is refused")

# --- counts and periods ---------------------------------------------------------------------

SEATS = Bound(0, 100_000, "", "seats a tenant buys: a hundred thousand agents is beyond any call centre")
DAYS = Bound(1, 3_660, "days", "a seat or number paid in advance for at most ten years: every paid-through "
             "time stays far inside Python's dates, which end in the year 9999")
NUMBER_MAX_CALLS = Bound(1, 1_000_000, "", "live calls on one leased number, inbound and outbound together: "
                         "beyond any trunk, so a large value can stand for 'no limit' (the benchmark uses 100,000)")
BILLING_INCREMENT_S = Bound(1, 3_600, "seconds", "a billing increment of at most an hour "
                            "(the billing_increment_s setting has the same range)")
LIST_ROWS = Bound(1, 1_000_000, "rows", "rows in one listing: a million is one export; "
                  "use --since for more")
ROW_ID = Bound(1, INT32_MAX, "", "row ids are 32-bit SERIAL columns on PostgreSQL")

#: the longest talk a balance is said to buy: the max_duration_s and billsec columns are 32-bit
#: INTEGERs (68 years, so no real call is cut by it) and an allowed end must stay a valid date
MAX_TALK_SECONDS = INT32_MAX

# --- times ----------------------------------------------------------------------------------

#: times people and files give (--at, --until, --expires, CSV obtained_at/expires_at, months):
#: the Unix epoch to the end of 8999, so every period the rules add to or take from a time
#: (rents, bans, look-backs, retention) stays inside Python's dates (years 1-9999)
EARLIEST_TIME = datetime(1970, 1, 1)
LATEST_TIME = datetime(8999, 12, 31, 23, 59, 59)
TIME_RANGE_TEXT = f"between {EARLIEST_TIME:%Y-%m-%d} and {LATEST_TIME:%Y-%m-%dT%H:%M:%S}Z (UTC)"


def check_time(value: datetime | None, what: str) -> datetime | None:
    """A naive UTC time inside [EARLIEST_TIME, LATEST_TIME] (None passes)."""
    if value is not None and not EARLIEST_TIME <= value <= LATEST_TIME:
        raise OutOfRange("%(what)s must be %(time_range)s, got %(value)s", what=what, time_range=TIME_RANGE_TEXT,
                         value=value.isoformat())
    return value
