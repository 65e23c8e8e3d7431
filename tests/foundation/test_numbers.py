"""Number normalisation and geography (A5, A10, A16): the province of a lease and of a callee must
come out the same however the geocoder spells it."""
import pytest

from domain.errors import InvalidInput
from domain.numbers import canonical_province, mask, normalize, region_of, time_zones_of


@pytest.mark.parametrize("raw, e164", [
    ("13800138000", "+8613800138000"), ("+86 138 0013 8000", "+8613800138000"),
    ("020-1234-5678", "+862012345678"), ("+1 415 555 0100", "+14155550100"),
])
def test_normalize(raw, e164):
    assert normalize(raw) == e164


@pytest.mark.parametrize("raw", ["", "12", "abc", "+86123", "110"])
def test_invalid_numbers_are_refused(raw):
    with pytest.raises(InvalidInput):
        normalize(raw)


@pytest.mark.parametrize("e164, province, city", [
    ("+8613800138000", "北京市", "北京市"),          # a municipality is its own city
    ("+862012345678", "广东省", "广州市"),
    ("+864712345678", "内蒙古自治区", "呼和浩特市"),  # geocoder: "内蒙古呼和浩特市"
    ("+8615809912345", "新疆维吾尔自治区", "乌鲁木齐市"),  # mobile: "新疆乌鲁木齐市"
    ("+869912345678", "新疆维吾尔自治区", "乌鲁木齐市"),  # fixed: "新疆维吾尔自治区乌鲁木齐市"
    ("+867712345678", "广西壮族自治区", "南宁市"),     # "广西壮族自治区南宁市、崇左市"
    ("+8613607712345", "广西壮族自治区", "南宁市"),    # "广西南宁市"
    ("+868912345678", "西藏自治区", "拉萨市"),
    ("+14155550100", "", ""),
])
def test_region_of_uses_official_province_names(e164, province, city):
    assert region_of(e164) == (province, city)


def test_canonical_province():
    assert canonical_province("宁夏") == "宁夏回族自治区"
    assert canonical_province("陕西省") == "陕西省" and canonical_province("山西") == "山西省"
    assert canonical_province("火星") is None and canonical_province("") is None


def test_time_zones_and_masking():
    assert time_zones_of("+8613800138000") == ("Asia/Shanghai",)
    assert len(time_zones_of("+79161234567")) > 5  # Russia spans many zones (A8: inside all of them)
    assert mask("+8613800138000") == "138****8000"


def test_compact_geography_answers_as_the_geocoder_does():
    """domain.geography keeps only phonenumbers' +86 data: for a number under every 5th +86
    prefix (and the non-geographic and unknown kinds) it must say what the geocoder says."""
    import phonenumbers
    from phonenumbers import geocoder
    from phonenumbers.geodata import GEOCODE_DATA

    from domain import geography

    prefixes = sorted(key for key in GEOCODE_DATA if key.startswith("86"))
    numbers = ["+8640012345678", "+8680012345678", "+8617012345678", "+8612345", "+8699999999999"]
    numbers += ["+" + (key + "0123456789")[:13] for key in prefixes[::5]]
    assert len(numbers) > 20_000
    mismatches = []
    for e164 in numbers:
        parsed = phonenumbers.parse(e164, None)
        expected = geocoder.description_for_number(parsed, "zh")
        if geography.describe(parsed) != expected:
            mismatches.append((e164, geography.describe(parsed), expected))
    assert mismatches == []
    assert len(geography.table().keys) > 100_000 and len(geography.table().names) < 2000


def test_compact_geography_refuses_other_countries():
    import phonenumbers

    from domain import geography

    with pytest.raises(ValueError):
        geography.describe(phonenumbers.parse("+14155550100", None))
