"""A refused form's message as the page shows it.

Most refusals come from the models with the CLI's English line. An id that names something of
another tenant (``ForeignReference``) is said in the page's language: it is what a tenant admin
meets when a call id or a code is mistyped, and it must not read like an internal error."""
from __future__ import annotations

from flask_babel import gettext as _

from models.errors import ForeignReference, InvalidInput


def _foreign(exc: ForeignReference) -> str:
    if exc.kind == "call":
        return _("通话 ID %(value)s 不是租户 %(owner)s 的通话，请核对。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "campaign":
        return _("租户 %(owner)s 没有话术 %(value)s。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "number":
        return _("号码 %(value)s 不是租户 %(owner)s 租用的号码。未保存任何内容。", value=exc.value, owner=exc.owner)
    if exc.kind == "token":
        return _("没有这个令牌。")
    return str(exc)


def error_text(exc: InvalidInput) -> str:
    return _foreign(exc) if isinstance(exc, ForeignReference) else str(exc)
