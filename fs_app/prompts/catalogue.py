"""What every prompt says, in Mandarin and English (RULEBOOK B1-B7).

The call flows refer to prompts by name only; the words live here. Texts are short and each one
either asks for a key, says what happens next, or says goodbye, so nobody is left in silence
without knowing why. Texts may contain ``{placeholders}`` filled from settings or the tenant
(``render_text``); phone numbers are spelled digit by digit because a hotline read as one big
number ("four billion...") is useless to a listener.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import phonenumbers

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"  # the platform's home market (RULEBOOK A5: default region CN)
AGENT_LANGUAGE = "zh"  # agents work for Chinese tenants; B7 is about the callee's country

# Who hears the prompt. Tenants may replace callee- and caller-facing recordings with their own
# (B7); agent-facing and blocked-call prompts belong to the platform and stay generated.
CALLEE, AGENT, BOTH, INBOUND = "callee", "agent", "both", "inbound"


@dataclass(frozen=True)
class Prompt:
    name: str
    audience: str
    zh: str
    en: str
    purpose: str
    per_tenant: bool = False  # rendered once per tenant (its display name and hotline)

    @property
    def tenant_uploadable(self) -> bool:
        return self.audience in (CALLEE, INBOUND)

    def text(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"unknown prompt language {lang!r}: expected one of {', '.join(LANGUAGES)}")
        return self.zh if lang == "zh" else self.en


# --- Blocked calls (B6): reason code -> category -> prompt + hangup cause ------------------------

@dataclass(frozen=True)
class BlockCategory:
    name: str
    reasons: tuple[str, ...]
    hangup_cause: str  # FreeSWITCH cause name; sofia maps it to the SIP status the agent's phone sees
    zh: str
    en: str

    @property
    def prompt_name(self) -> str:
        return f"blocked_{self.name}"


# Listed in precedence order: when a call fails several rules, the agent hears the first matching
# category, the most fundamental one (an invalid number or a barred account will not be cured by
# waiting; a busy line will), and the channel ends with that category's cause.
BLOCK_CATEGORIES: tuple[BlockCategory, ...] = (
    BlockCategory(
        "invalid_number", ("INVALID_NUMBER",), "INVALID_NUMBER_FORMAT",
        "您拨打的号码无效，请核对后再拨。",
        "The number you dialled is not valid. Please check it and try again.",
    ),
    BlockCategory(
        "account", ("TENANT_NOT_ACTIVE", "TENANT_BANNED", "FUNCTION_BANNED", "INDUSTRY_RESTRICTED"),
        "OUTGOING_CALL_BARRED",
        "您的企业账户目前不能外呼，请联系管理员。",
        "Your company account cannot make calls at the moment. Please contact your administrator.",
    ),
    BlockCategory(
        "seat", ("UNAUTHENTICATED", "SEAT_UNKNOWN", "SEAT_EXPIRED", "AUTODIAL_FORBIDDEN"),
        "OUTGOING_CALL_BARRED",
        "您的坐席无法发起呼叫，请确认已登录有效坐席，或联系管理员。",
        "Your seat cannot place calls. Please sign in with a valid seat or contact your administrator.",
    ),
    BlockCategory(
        "campaign", ("SCRIPT_NOT_APPROVED",), "OUTGOING_CALL_BARRED",
        "当前外呼任务的话术尚未通过审核，暂时不能呼叫。",
        "The script of this campaign is not approved yet, so it cannot place calls.",
    ),
    BlockCategory(
        "balance", ("INSUFFICIENT_BALANCE",), "OUTGOING_CALL_BARRED",
        "账户余额不足，请充值后再拨。",
        "Your account balance is too low. Please top up and try again.",
    ),
    BlockCategory(
        "caller_id", ("NO_LOCAL_NUMBER", "NUMBER_LEASE_EXPIRED"), "OUTGOING_CALL_BARRED",
        "没有可用的主叫号码，请联系管理员办理号码。",
        "There is no caller number you may use for this call. Please contact your administrator.",
    ),
    BlockCategory(
        "callee_protected", ("DNC", "NO_CONSENT", "REGION_RESTRICTED"), "CALL_REJECTED",
        "根据规定，该号码不能呼叫：对方已拒绝来电、未授权呼叫，或属于限制地区。",
        "This number may not be called: it refused calls, gave no consent, or is in a restricted region.",
    ),
    BlockCategory(
        "timing", ("OUTSIDE_CALLING_HOURS", "FREQUENCY_LIMIT"), "CALL_REJECTED",
        "现在不能呼叫该号码：不在允许的呼叫时段，或呼叫过于频繁。请稍后再试。",
        "This number cannot be called now: it is outside calling hours or was called too often. Please try later.",
    ),
    BlockCategory(
        "busy", ("SEAT_BUSY", "SEAT_LIMIT", "NUMBER_BUSY"), "NORMAL_CIRCUIT_CONGESTION",
        "线路正忙，请稍后再拨。",
        "All lines are busy. Please try again shortly.",
    ),
    BlockCategory(
        "system", ("POLICY_UNAVAILABLE",), "NORMAL_TEMPORARY_FAILURE",
        "系统暂时无法处理您的呼叫，请稍后再拨。",
        "The system cannot handle your call right now. Please try again shortly.",
    ),
)

CATEGORY_BY_REASON: dict[str, BlockCategory] = {
    reason: category for category in BLOCK_CATEGORIES for reason in category.reasons
}
REASON_CODES: tuple[str, ...] = tuple(CATEGORY_BY_REASON)


def _category(code: str) -> BlockCategory:
    try:
        return CATEGORY_BY_REASON[code]
    except KeyError:
        raise ValueError(f"unknown reason code {code!r}") from None


def category_for_reason(code: str) -> str:
    """The category name of one reason code, e.g. ``DNC`` -> ``callee_protected``."""
    return _category(code).name


def category_prompt(category: str) -> str:
    """The prompt name the agent hears for a category, e.g. ``callee_protected`` -> ``blocked_callee_protected``."""
    for item in BLOCK_CATEGORIES:
        if item.name == category:
            return item.prompt_name
    raise ValueError(f"unknown block category {category!r}")


def primary_category(codes: Iterable[str]) -> str:
    """The category to announce for a decision with several failing reasons (precedence order)."""
    wanted = {_category(code).name for code in codes}
    if not wanted:
        raise ValueError("a blocked call needs at least one reason code")
    return next(item.name for item in BLOCK_CATEGORIES if item.name in wanted)


def blocked_prompt_for_reasons(codes: Iterable[str]) -> str:
    """The prompt name to play to the agent of a blocked call."""
    return category_prompt(primary_category(codes))


def hangup_cause_for_reasons(codes: Iterable[str]) -> str:
    """The FreeSWITCH hangup cause for a blocked call, matching the prompt the agent heard."""
    primary = primary_category(codes)
    return next(item.hangup_cause for item in BLOCK_CATEGORIES if item.name == primary)


# --- The catalogue --------------------------------------------------------------------------------

_PROMPTS: list[Prompt] = [
    # Callee side (B1-B3).
    Prompt(
        "disclosure", CALLEE,
        "您好，这里是{display_name}。如需投诉，请拨打{hotline}。",
        "Hello, this is {display_name}. For complaints, please call {hotline}.",
        "B1: first thing the callee hears: who calls and where to complain (rendered per tenant)",
        per_tenant=True,
    ),
    # The opt-out hint is part of the consent prompt: the flow collects ONE digit among 1/2/9
    # while it plays, so the callee can answer as soon as they know their options.
    Prompt(
        "consent_request", CALLEE,
        "本次通话将被录音，同意请按{agree_key}，不同意请按{decline_key}。如不希望再接到我们的来电，请按{optout_key}。",
        "This call will be recorded. Press {agree_key} to agree, or {decline_key} to decline. "
        "If you do not want any more calls from us, press {optout_key}.",
        "B2+B3: recording notice with the 1/2 choice and the opt-out key",
    ),
    Prompt(
        "consent_repeat", CALLEE,
        "抱歉，没有收到您的按键。同意录音请按{agree_key}，不同意请按{decline_key}，不希望再接到来电请按{optout_key}。",
        "Sorry, we did not get your answer. Press {agree_key} to allow recording, {decline_key} to decline, "
        "or {optout_key} to receive no more calls.",
        "B2: played once when no key came within the timeout; silence after it counts as decline",
    ),
    Prompt(
        "optout_offer", CALLEE,
        "如不希望再接到我们的来电，请按{optout_key}。",
        "If you do not want any more calls from us, press {optout_key}.",
        "B3: opt-out offer on calls that are not recorded (no consent question to ask)",
    ),
    Prompt(
        "optout_confirm", CALLEE,
        "已为您登记，我们将不再致电。再见。",
        "You are registered: we will not call you again. Goodbye.",
        "B3: confirmation after the opt-out key, just before the call ends",
    ),
    Prompt(
        "consent_declined", CALLEE,
        "好的，本次通话不录音。正在为您接通，请稍候。",
        "OK, this call will not be recorded. Connecting you now, please hold.",
        "B2: acknowledgement of 2 (or of no answer) before the bridge",
    ),
    Prompt(
        "connecting", CALLEE,
        "谢谢，正在为您接通，请稍候。",
        "Thank you. Connecting you now, please hold.",
        "B2: acknowledgement of 1 (or after the opt-out offer) before the bridge",
    ),
    # Agent side (B4, B5, failures of the callee leg).
    Prompt(
        "agent_recorded", AGENT,
        "对方已接通，本次通话正在录音。",
        "Connected. This call is being recorded.",
        "B4: the agent's notice at bridge time when recording runs",
    ),
    Prompt(
        "agent_not_recorded", AGENT,
        "对方已接通，本次通话不录音。",
        "Connected. This call is not recorded.",
        "B4: the agent's notice at bridge time when the call is not recorded",
    ),
    Prompt(
        "duration_warning", BOTH,
        "通话将在{warning_seconds}秒后结束。",
        "This call will end in {warning_seconds} seconds.",
        "B5: played to both parties shortly before the duration limit cuts the call",
    ),
    Prompt(
        "callee_busy", AGENT,
        "对方正忙，请稍后再拨。",
        "The number you called is busy. Please try again later.",
        "callee leg ended USER_BUSY",
    ),
    Prompt(
        "callee_no_answer", AGENT,
        "对方无人接听，请稍后再拨。",
        "There was no answer. Please try again later.",
        "callee leg ended NO_ANSWER / NO_USER_RESPONSE / timeout",
    ),
    Prompt(
        "callee_rejected", AGENT,
        "对方拒绝了本次通话。",
        "The person you called declined the call.",
        "callee leg ended CALL_REJECTED (603) or hung up during the prompts",
    ),
    Prompt(
        "callee_failed", AGENT,
        "呼叫未能接通，请稍后再试。",
        "The call could not be connected. Please try again later.",
        "callee leg failed for any other cause",
    ),
    Prompt(
        "callee_opted_out", AGENT,
        "对方已要求不再接收来电，该号码已加入免打扰名单。",
        "The person you called asked not to be called again. The number is now on the do-not-call list.",
        "B3: tells the waiting agent why the call ends after the callee pressed the opt-out key",
    ),
    # Inbound calls to leased numbers.
    Prompt(
        "inbound_consent_request", INBOUND,
        "欢迎来电。本次通话将被录音，同意请按{agree_key}，不同意请按{decline_key}。",
        "Thank you for calling. This call will be recorded. Press {agree_key} to agree, or {decline_key} to decline.",
        "B2: the recording notice for inbound callers",
    ),
    Prompt(
        "inbound_nobody_available", INBOUND,
        "您好，目前没有坐席可以接听您的来电，请稍后再拨。再见。",
        "Sorry, nobody is available to take your call. Please call again later. Goodbye.",
        "inbound call found no free agent",
    ),
    Prompt(
        "inbound_unreachable", INBOUND,
        "您拨打的号码暂时无法接通，请稍后再拨。再见。",
        "The number you called cannot be reached at the moment. Please call again later. Goodbye.",
        "inbound call to a number whose tenant cannot take calls",
    ),
]
_PROMPTS += [Prompt(c.prompt_name, AGENT, c.zh, c.en, f"B6: blocked call, reasons {', '.join(c.reasons)}")
             for c in BLOCK_CATEGORIES]

PROMPTS: dict[str, Prompt] = {p.name: p for p in _PROMPTS}
TENANT_PROMPTS = tuple(p.name for p in _PROMPTS if p.per_tenant)


def get_prompt(name: str) -> Prompt:
    try:
        return PROMPTS[name]
    except KeyError:
        raise ValueError(f"unknown prompt {name!r}") from None


# --- Language (B7) --------------------------------------------------------------------------------

def language_for_number(e164: str) -> str:
    """``zh`` for +86 numbers, ``en`` for any other country.

    Numbers that cannot be read as international numbers (national or short codes such as 110)
    are treated as Chinese: the platform's default region is CN (RULEBOOK A5).
    """
    try:
        number = phonenumbers.parse((e164 or "").strip(), "CN")
    except phonenumbers.NumberParseException:
        return DEFAULT_LANGUAGE
    return "zh" if number.country_code == 86 else "en"


# --- Spoken numbers -------------------------------------------------------------------------------

# 幺 rather than 一 for the digit 1: it is how Chinese speakers read phone numbers, and it is
# hard to mishear as 七.
_ZH_DIGITS = dict(zip("0123456789", "零幺二三四五六七八九"))
_ZH_NUMERALS = "零一二三四五六七八九"


def _number_groups(e164: str, lang: str) -> list[str]:
    """Digit groups as a person reads them: national format for a Chinese hotline told to a
    Chinese listener, international format otherwise; raw digits if the number cannot be parsed."""
    text = (e164 or "").strip()
    try:
        number = phonenumbers.parse(text, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is not None:
        fmt = (phonenumbers.PhoneNumberFormat.NATIONAL if lang == "zh" and number.country_code == 86
               else phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        formatted = phonenumbers.format_number(number, fmt)
    else:
        formatted = text
    groups = ["".join(ch for ch in chunk if ch.isdigit() or ch == "+")
              for chunk in formatted.replace("-", " ").split()]
    groups = [g for g in groups if g.strip("+")]
    if not groups:
        raise ValueError(f"hotline {e164!r} has no digits to speak")
    return groups


def spoken_number(e164: str, lang: str) -> str:
    """A phone number spelled digit by digit, with a short pause between groups."""
    parts = []
    for group in _number_groups(e164, lang):
        plus = group.startswith("+")
        digits = group.lstrip("+")
        if lang == "zh":
            parts.append(("加" if plus else "") + "".join(_ZH_DIGITS[d] for d in digits))
        else:
            parts.append(("plus " if plus else "") + " ".join(digits))
    return ("，" if lang == "zh" else ", ").join(parts)


def spoken_integer(value: int, lang: str) -> str:
    """A small count (seconds) as words the synthesiser reads reliably in both languages."""
    if lang != "zh":
        return str(value)
    if not 0 <= value < 1000:
        return str(value)
    if value < 10:
        return _ZH_NUMERALS[value]
    hundreds, rest = divmod(value, 100)
    tens, ones = divmod(rest, 10)
    out = ""
    if hundreds:
        out += _ZH_NUMERALS[hundreds] + "百"
        if tens == 0 and ones:
            return out + "零" + _ZH_NUMERALS[ones]
    if tens:
        out += ("" if tens == 1 and not hundreds else _ZH_NUMERALS[tens]) + "十"
    if ones:
        out += _ZH_NUMERALS[ones]
    return out


def render_text(name: str, lang: str, values: Mapping[str, object] | None = None) -> str:
    """The exact words of a prompt in one language, placeholders filled.

    ``values`` may hold ``display_name`` and ``hotline`` (E.164) for the disclosure,
    ``optout_key`` (default 9), ``agree_key`` / ``decline_key`` (1 / 2) and ``warning_seconds`` (default 30).
    """
    prompt = get_prompt(name)
    values = dict(values or {})
    fields = {
        "optout_key": str(values.get("optout_key", "9")),
        "agree_key": str(values.get("agree_key", "1")),
        "decline_key": str(values.get("decline_key", "2")),
        "warning_seconds": spoken_integer(int(values.get("warning_seconds", 30)), lang),
    }
    if prompt.per_tenant:
        display_name = str(values.get("display_name") or "").strip()
        hotline = str(values.get("hotline") or "").strip()
        if not display_name or not hotline:
            raise ValueError(f"prompt {name!r} needs the tenant's display name and hotline")
        fields["display_name"] = display_name
        fields["hotline"] = spoken_number(hotline, lang)
    return prompt.text(lang).format(**fields)
