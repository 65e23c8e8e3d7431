"""Phone numbers: normalisation to E.164 and number geography, all through phonenumbers."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers

from .errors import InvalidInput

# Municipalities are their own province in the Chinese geocoder output ("北京市").
_MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")
_PROVINCE_SUFFIXES = ("省", "自治区", "特别行政区")


def normalize(raw: str, region: str = "CN") -> str:
    """National or E.164 input to E.164; InvalidInput when it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("empty phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"invalid phone number {raw!r}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"invalid phone number {raw!r}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalize(raw: str, region: str = "CN") -> str | None:
    try:
        return normalize(raw, region)
    except InvalidInput:
        return None


@lru_cache(maxsize=65536)
def region_of(e164: str) -> tuple[str, str]:
    """(province, city) in Chinese for a CN number; ("", "") when unknown or not CN."""
    from phonenumbers import geocoder  # its data takes ~0.8 s to load: only when geography is needed

    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code != 86:
        return "", ""
    description = geocoder.description_for_number(parsed, "zh")
    if not description:
        return "", ""
    if description in _MUNICIPALITIES:
        return description, description
    for suffix in _PROVINCE_SUFFIXES:
        index = description.find(suffix)
        if index > 0:
            cut = index + len(suffix)
            return description[:cut], description[cut:] or description[:cut]
    return description, description


def is_cn(e164: str) -> bool:
    return e164.startswith("+86")


@lru_cache(maxsize=65536)
def time_zones_of(e164: str) -> tuple[str, ...]:
    """IANA zones the number may be in (CN numbers are all Asia/Shanghai)."""
    if is_cn(e164):
        return ("Asia/Shanghai",)
    from phonenumbers import timezone as number_timezones

    zones = number_timezones.time_zones_for_number(phonenumbers.parse(e164, None))
    return tuple(z for z in zones if z != "Etc/Unknown")


def mask(number: str) -> str:
    """138****8000 style masking for people without the PII permission (D3)."""
    digits = number or ""
    if len(digits) <= 7:
        return digits[:1] + "*" * max(len(digits) - 2, 0) + digits[-1:] if digits else ""
    national = digits[3:] if digits.startswith("+86") else digits
    if len(national) < 8:
        return national[:2] + "*" * (len(national) - 4) + national[-2:]
    return national[:3] + "****" + national[-4:]
