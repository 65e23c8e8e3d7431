"""Dashboard charts as inline SVG (pygal), styled to match admin.css; no JavaScript needed."""
from __future__ import annotations

from functools import lru_cache, wraps

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


def _empty(title: str, message: str, css_class: str) -> Markup:
    """No data: a sentence in words where an empty 0-1 axis would be."""
    return Markup('<div class="chart chart-empty {0}"><div class="chart-title">{1}</div><p class="muted">{2}</p></div>').format(
        Markup.escape(css_class), title, message)


def memoized(render):
    """Rendering one chart costs pygal ~10 ms; the same figures (a closed day or period, a page
    viewed again) give the same SVG, so the last charts are kept by their arguments."""
    cached = lru_cache(maxsize=64)(render)

    @wraps(render)
    def chart(*args, **kwargs):
        frozen = lambda value: tuple(map(frozen, value)) if isinstance(value, (list, tuple)) else value  # noqa: E731
        return cached(*map(frozen, args), **{name: frozen(value) for name, value in kwargs.items()})

    return chart


@memoized
def calls_per_hour(total: list[int], answered: list[int], *, title: str, total_label: str,
                   answered_label: str, empty: str) -> Markup:
    if not any(total):
        return _empty(title, empty, "chart-calls-per-hour")
    total, answered = list(total), list(answered)
    chart = pygal.Bar(title=title, x_labels=[f"{h:02d}" for h in range(24)],
                      y_labels=_whole_ticks(max(total + answered, default=0)), **_COMMON)
    chart.add(total_label, total)
    chart.add(answered_label, answered)
    return _render(chart, "chart-calls-per-hour")


@memoized
def calls_per_day(days: list[str], total: list[int], answered: list[int], *, title: str, total_label: str,
                  answered_label: str, empty: str) -> Markup:
    if not any(total):
        return _empty(title, empty, "chart-calls-per-day")
    days, total, answered = list(days), list(total), list(answered)
    # every ~8th day is labelled, whole: pygal would cut each label to its bar's width ("1…")
    chart = pygal.Bar(title=title, x_labels=days, x_label_rotation=0, show_minor_x_labels=False, truncate_label=-1,
                      y_labels=_whole_ticks(max(total + answered, default=0)), **_COMMON)
    chart.x_labels_major = days[::max(1, len(days) // 8)]
    chart.add(total_label, total)
    chart.add(answered_label, answered)
    return _render(chart, "chart-calls-per-day")


@memoized
def blocked_reasons(counts: list[tuple[str, int]], *, title: str, empty: str) -> Markup:
    """One bar per reason, named in the legend under the chart (two columns, never truncated):
    labels on the axis were clipped on the left however long the Chinese names were."""
    top = [(label, n) for label, n in counts[:8] if n]
    if not top:
        return _empty(title, empty, "chart-blocked-reasons")
    # pygal leaves room for one legend row only: the others get a bottom margin, or they are clipped
    extra_rows = -(-len(top) // 2) - 1
    chart = pygal.HorizontalBar(title=title, truncate_legend=-1, legend_at_bottom_columns=2,
                                y_labels=_whole_ticks(max(n for _, n in top)),
                                margin_bottom=_COMMON["margin"] + 18 * extra_rows, **_COMMON)
    for label, n in top:
        chart.add(label, [n])
    return _render(chart, "chart-blocked-reasons")
