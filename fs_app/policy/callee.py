"""The dialled number, classified once: E.164, emergency short code, region and time zones (A5)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from domain.numbers import is_cn, region_of, time_zones_of, try_normalize


@dataclass(frozen=True)
class Callee:
    dialled: str
    e164: str | None  # None: not a valid number (and not an emergency code)
    emergency: bool = False
    is_cn: bool = False
    province: str = ""
    city: str = ""
    zones: tuple[str, ...] = ()


@lru_cache(maxsize=65536)
def classify_callee(dialled: str, default_region: str, emergency_numbers: tuple[str, ...]) -> Callee:
    text = (dialled or "").strip()
    if text in emergency_numbers:
        # Short codes are not E.164; they are dialled as they are and reach the local PSAP.
        return Callee(dialled=text, e164=None, emergency=True, is_cn=True)
    e164 = try_normalize(text, default_region)
    if e164 is None:
        return Callee(dialled=text, e164=None)
    province, city = region_of(e164)
    return Callee(dialled=text, e164=e164, is_cn=is_cn(e164), province=province, city=city,
                  zones=time_zones_of(e164))
