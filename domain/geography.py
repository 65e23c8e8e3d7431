"""Where a Chinese number is, from phonenumbers' own geocoding data, kept compact.

phonenumbers' geocoder imports the prefix data of every country at once: about 100 MB of small
dicts and 0.5-1 s of loading, in a process that only ever asks about +86. This module has a child
process load that data, keep the +86 entries that have a Chinese name (130k prefixes, ~400 names)
and hand them over as two sorted arrays, ~1.3 MB in the serving process. The lookup is
phonenumbers' own rule (the longest matching prefix of the E.164 digits that has a name in the
language), so answers equal ``geocoder.description_for_number(number, "zh")``; a test compares
the two over every prefix.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
from array import array
from bisect import bisect_left

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers.phonenumberutil import is_number_type_geographical

COUNTRY_CODE = 86
LANGUAGE = "zh"


class PrefixTable:
    """E.164 digit prefixes (as integers, sorted) -> index into ``names``.

    A prefix of the digits "861380010..." is looked up as the integer 861380010: numbers of
    different lengths never collide, because no prefix starts with 0.
    """

    def __init__(self, keys: list[int], names_index: list[int], names: list[str], longest: int, country: str):
        self.keys = array("Q", keys)
        self.names_index = array("H", names_index)
        self.names = names
        self.longest = longest
        self.country = country  # the country's own name, for non-geographic numbers

    def describe(self, digits: str) -> str:
        keys = self.keys
        for length in range(min(self.longest, len(digits)), 0, -1):
            key = int(digits[:length])
            at = bisect_left(keys, key)
            if at < len(keys) and keys[at] == key:
                return self.names[self.names_index[at]]
        return ""


# Run by the child process (``python -c``, so that it imports nothing of ours): the +86 entries
# that have a Chinese name, sorted, as JSON on stdout.
EXTRACT = """
import json, sys
import phonenumbers
from phonenumbers.geocoder import country_name_for_number
from phonenumbers.geodata import GEOCODE_DATA
prefix, lang = sys.argv[1], sys.argv[2]
entries = sorted((int(key), names[lang]) for key, names in GEOCODE_DATA.items()
                 if key.startswith(prefix) and lang in names)
names = {}
index = [names.setdefault(name, len(names)) for _, name in entries]
country = country_name_for_number(phonenumbers.parse("+" + prefix + "1012345678", None), lang)
json.dump({"version": phonenumbers.__version__, "keys": [key for key, _ in entries], "index": index,
           "names": list(names), "longest": max((len(str(key)) for key, _ in entries), default=0),
           "country": country}, sys.stdout, ensure_ascii=False, separators=(",", ":"))
"""


_table: PrefixTable | None = None
_lock = threading.Lock()


def table() -> PrefixTable:
    """The table, built once per process (in a child process, ~1 s)."""
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                out = subprocess.run([sys.executable, "-c", EXTRACT, str(COUNTRY_CODE), LANGUAGE],
                                     capture_output=True, check=True)
                data = json.loads(out.stdout)
                _table = PrefixTable(data["keys"], data["index"], data["names"], data["longest"], data["country"])
    return _table


def describe(number: phonenumbers.PhoneNumber) -> str:
    """``geocoder.description_for_number(number, "zh")`` for a +86 number."""
    if number.country_code != COUNTRY_CODE:
        raise ValueError("only +86 numbers are described here")
    kind = phonenumbers.number_type(number)
    if kind == PhoneNumberType.UNKNOWN:
        return ""
    if not is_number_type_geographical(kind, number.country_code):
        return table().country
    digits = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]
    return table().describe(digits) or table().country  # no area: the country, as the geocoder does

