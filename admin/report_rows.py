"""The rows of the report table as HTML, written in Python: a report by seat has hundreds of rows
of 13 cells, and Jinja spent more time on them (an escape and a filter call per cell) than the
database on the figures. Text cells are escaped here; numbers are formatted as the template's
filters format them (``admin.formatting``)."""
from __future__ import annotations

from markupsafe import Markup, escape

from .formatting import decimal, percent, yuan, yuan_or_dash


def table_rows(rows, reason_names: dict, unnamed: str) -> Markup:
    """``<tr>`` per report row; ``unnamed``: the name of a row without one (unknown seat, no campaign)."""
    out = []
    for r in rows:
        badges = " ".join(f'<span class="badge">{escape(reason_names[code])} {n}</span>'
                          for code, n in r.reasons.most_common(3))
        out.append(
            f'<tr><td class="name">{escape(r.label or unnamed)}</td><td class="num">{r.calls}</td>'
            f'<td class="num">{r.answered}</td><td class="num">{percent(r.answer_rate)}</td>'
            f'<td class="num">{decimal(r.average_minutes)}</td><td class="num">{percent(r.blocked_share)}</td>'
            f'<td>{badges}</td><td class="num">{yuan(r.charge_fen)}</td>'
            f'<td class="num">{yuan_or_dash(r.seat_rent_fen)}</td><td class="num">{yuan_or_dash(r.number_rent_fen)}</td>'
            f'<td class="num">{yuan(r.revenue_fen)}</td><td class="num">{r.complaints}</td>'
            f'<td class="num">{decimal(r.complaints_per_thousand, 2)}</td></tr>')
    return Markup("\n".join(out))
