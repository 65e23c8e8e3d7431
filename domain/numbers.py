"""Phone numbers: normalisation to E.164 and number geography, all through phonenumbers."""
from __future__ import annotations

from functools import lru_cache

import phonenumbers

from . import geography
from .errors import InvalidInput

# Official names of the provincial divisions, keyed by the short name the geocoder may use
# ("新疆乌鲁木齐市" and "新疆维吾尔自治区乌鲁木齐市" are the same province).
PROVINCES = {
    "北京": "北京市", "天津": "天津市", "上海": "上海市", "重庆": "重庆市",
    "河北": "河北省", "山西": "山西省", "辽宁": "辽宁省", "吉林": "吉林省", "黑龙江": "黑龙江省",
    "江苏": "江苏省", "浙江": "浙江省", "安徽": "安徽省", "福建": "福建省", "江西": "江西省",
    "山东": "山东省", "河南": "河南省", "湖北": "湖北省", "湖南": "湖南省", "广东": "广东省",
    "海南": "海南省", "四川": "四川省", "贵州": "贵州省", "云南": "云南省", "陕西": "陕西省",
    "甘肃": "甘肃省", "青海": "青海省", "台湾": "台湾省",
    "内蒙古": "内蒙古自治区", "广西": "广西壮族自治区", "西藏": "西藏自治区",
    "宁夏": "宁夏回族自治区", "新疆": "新疆维吾尔自治区",
}


def canonical_province(name: str) -> str | None:
    """The official name of a province given any common form ("新疆", "广东省"); None if unknown."""
    text = (name or "").strip()
    for short, official in PROVINCES.items():
        if text.startswith(short) and official.startswith(text):
            return official
    return None


def _split_description(description: str) -> tuple[str, str]:
    """"广西南宁市" -> ("广西壮族自治区", "南宁市"); a municipality is its own city."""
    for short, official in PROVINCES.items():
        if description.startswith(short):
            rest = description[len(official):] if description.startswith(official) else description[len(short):]
            city = rest.split("、")[0]  # "南宁市、崇左市": a shared area code; the first city names it
            return official, city or official
    return description, description


def normalize(raw: str, region: str = "CN") -> str:
    """National or E.164 input to E.164; InvalidInput when it is not a valid number."""
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("empty phone number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput("invalid phone number %(raw)r", raw=raw) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput("invalid phone number %(raw)r", raw=raw)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def try_normalize(raw: str, region: str = "CN") -> str | None:
    try:
        return normalize(raw, region)
    except InvalidInput:
        return None


@lru_cache(maxsize=8192)
def region_of(e164: str) -> tuple[str, str]:
    """(province, city) in Chinese for a CN number; ("", "") when unknown or not CN."""
    parsed = phonenumbers.parse(e164, None)
    if parsed.country_code != geography.COUNTRY_CODE:
        return "", ""
    description = geography.describe(parsed)
    if not description:
        return "", ""
    return _split_description(description)


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


def mask_numbers_in(text: str, region: str = "CN") -> str:
    """Free text with every valid phone number in it masked (``mask``), however it is written
    (E.164, national, with spaces or dashes): audit-log targets and details for users without
    the PII permission (D3). IP addresses, ids and dates are not valid numbers and stay."""
    if not text or not any(c.isdigit() for c in text):
        return text
    out, last = [], 0
    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        out.append(text[last:match.start])
        out.append(mask(phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)))
        last = match.end
    out.append(text[last:])
    return "".join(out)
