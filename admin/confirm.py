"""The confirm step of a destructive act (terminate, release, disable): a page that says what will
happen, with the one form that does it. No JavaScript dialog: the CSP allows no inline script,
and a page works the same with or without script."""
from __future__ import annotations

from dataclasses import dataclass

from flask import render_template


@dataclass
class Field:
    name: str
    label: str
    options: list[tuple[str, str]] | None = None  # a select; else a text input
    required: bool = False
    wide: bool = False


def confirm_page(*, title: str, warning: str, action: str, button: str, cancel: str, facts=(), fields=(),
                 form=None, error: str = "", status: int = 200):
    return render_template("confirm.html", title=title, warning=warning, action=action, button=button,
                           cancel=cancel, facts=list(facts), fields=list(fields), form=form or {},
                           error=error), status
