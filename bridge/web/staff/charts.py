"""Bar charts as inline SVG, drawn on the server: no chart library, no script, works with the CSP.

Colours come from the stylesheet (classes), sizes from presentation attributes, so nothing
needs an inline ``style``. Each chart carries a title and a text description for screen
readers; the page shows the same figures in a table beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 16, 40


def _nice_max(value: float) -> float:
    if value <= 0:
        return 4  # an empty chart still gets whole-number ticks
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if value <= step * 4:
            return step * 4
    return value


def bar_chart(
    chart_id: str, title: str, labels: Sequence[str], values: Sequence[float | None], unit: str
) -> Markup:
    """One SVG bar per label; ``None`` values are drawn as gaps (no data that day)."""
    top = _nice_max(max((v for v in values if v is not None), default=0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(values))
    bar_w = max(2.0, slot * 0.7)
    parts = [
        f'<svg id="{escape(chart_id)}" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-t {escape(chart_id)}-d" '
        f'width="100%" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-t">{escape(title)}</title>',
    ]
    described = ", ".join(
        f"{lab}: {'no data' if v is None else f'{v:g} {unit}'}"
        for lab, v in zip(labels, values, strict=True)
    )
    parts.append(f'<desc id="{escape(chart_id)}-d">{escape(described)}</desc>')
    for i in range(5):
        tick = top * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid-line" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>'
        )
    every = max(1, len(labels) // 7)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + (slot - bar_w) / 2
        if value is not None and value > 0:
            h = plot_h * value / top
            parts.append(
                f'<rect class="bar" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}"><title>{escape(label)}: '
                f"{value:g} {escape(unit)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    # Every piece of text above went through escape(); the rest is our own markup.
    return Markup("".join(parts))  # noqa: S704
