"""Dashboard charts as inline SVG (pygal), styled to match admin.css; no JavaScript needed."""
from __future__ import annotations

import pygal
from markupsafe import Markup
from pygal.style import Style

STYLE = Style(
    background="transparent",
    plot_background="transparent",
    foreground="#344054",
    foreground_strong="#101828",
    foreground_subtle="#d0d5dd",
    colors=("#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2"),
    font_family="'Noto Sans CJK SC', 'PingFang SC', 'Microsoft YaHei', sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=12,
    title_font_size=14,
    value_font_size=11,
    tooltip_font_size=12,
)

_COMMON = dict(style=STYLE, disable_xml_declaration=True, js=(), height=280, width=640,
               show_y_guides=True, margin=12, legend_at_bottom=True, legend_box_size=10,
               print_values=False, no_data_text="—")


def _whole_ticks(largest: int) -> list[int]:
    """Axis labels for counts: whole numbers, about five of them."""
    step = max(1, -(-max(largest, 1) // 5))
    return list(range(0, max(largest, 1) + step, step))


def _render(chart, css_class: str) -> Markup:
    svg = chart.render(is_unicode=True)
    return Markup(f'<div class="chart {css_class}">{svg}</div>')


def calls_per_hour(total: list[int], answered: list[int], *, title: str, total_label: str,
                   answered_label: str) -> Markup:
    chart = pygal.Bar(title=title, x_labels=[f"{h:02d}" for h in range(24)],
                      y_labels=_whole_ticks(max(total + answered, default=0)), **_COMMON)
    chart.add(total_label, total)
    chart.add(answered_label, answered)
    return _render(chart, "chart-calls-per-hour")


def blocked_reasons(counts: list[tuple[str, int]], *, title: str) -> Markup:
    top = counts[:8]
    chart = pygal.HorizontalBar(title=title, show_legend=False, truncate_label=-1,
                                y_labels=_whole_ticks(max((n for _, n in top), default=0)), **_COMMON)
    chart.x_labels = [label for label, _ in top]
    chart.add(title, [n for _, n in top])
    return _render(chart, "chart-blocked-reasons")
