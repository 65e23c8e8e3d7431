"""Errors the provisioning layer raises for bad input; the CLI prints them, the admin translates them.

A message is an English template with named parameters: ``InvalidInput("invalid phone number
%(raw)r", raw=text)``. ``str(exc)`` is the English line the CLI prints (the template filled in);
the admin looks the template up in its Chinese catalogue (``admin.i18n.error_text``) and fills in
the same parameters, so one raise serves both languages. A parameter named ``what`` is a field
name chosen by the code ("seats", "monthly fee"), never typed by a user: the admin translates it
too, and so is ``unit`` (looked up as ``unit:<name>``). A ``datetime`` parameter is naive UTC: the CLI shows it as ``2026-11-23 10:00 UTC``, the
admin in the page's zone."""
from __future__ import annotations

from datetime import datetime

#: parameters that name a field or unit (translated by the admin); every other one is a value
TERM_PARAMETERS = frozenset({"what", "unit"})


def utc_text(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC"


def fill(template: str, params: dict, show_time=utc_text) -> str:
    """``template`` with ``params`` filled in (%-style); a template without parameters is literal."""
    if not params:
        return template
    shown = {name: show_time(value) if isinstance(value, datetime) else value for name, value in params.items()}
    return template % shown


class InvalidInput(ValueError):
    """Input that cannot be accepted: the message is one line meant for the operator."""

    def __init__(self, template: str, /, **params):
        self.template, self.params = template, params
        super().__init__(fill(template, params))


class NotFound(InvalidInput):
    """A referenced tenant, seat, number or campaign does not exist."""


class ForeignReference(NotFound):
    """An id given for one tenant (or user) that names nothing of theirs: another tenant's call,
    campaign or number, another user's token, or nothing at all (the same answer either way, so
    ids of others reveal nothing). ``kind``, ``value`` and ``owner`` (the tenant code or the
    username) let the admin say it in the page's language."""

    def __init__(self, kind: str, value: str, owner: str, template: str, /, **params):
        super().__init__(template, **params)
        self.kind, self.value, self.owner = kind, value, owner
