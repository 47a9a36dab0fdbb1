"""The compartment cells of a grid, rendered in Python.

A status page may show thousands of doors and is polled every few seconds; one Jinja loop
iteration per door (with autoescaping of every field) cost about a millisecond per 10 doors on
the target machine. Here each cell is one f-string, and only text that can hold markup
(fault descriptions, masked patron data) is escaped. The markup matches ``_grid.html``'s needs.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from bridge.web.staff.filters import duration, state_label, when
from bridge.web.staff.queries import BankGrid


def cells_html(grid: BankGrid, zone: str, cell_base: str) -> Markup:
    parts: list[str] = []
    bank = escape(grid.bank_id)
    base = escape(cell_base)
    for c in grid.cells:
        classes = f"cell s-{escape(c.state)}"
        inner = [
            f'<span class="num">{c.number}</span>',
            f'<span class="state">{escape(state_label(c.state))}</span>',
            f'<span class="meta">{escape(c.size)}'
            + (f" · {escape(c.purpose)}" if c.purpose != "pickup" else "")
            + "</span>",
        ]
        if c.waited:
            inner.append(f'<span class="meta">waited {duration(c.waited)}</span>')
        if c.expires_at:
            inner.append(f'<span class="meta">until {when(c.expires_at, zone)}</span>')
        if c.patron:
            inner.append(f'<span class="meta">{escape(c.patron)}</span>')
        if c.door_open:
            classes += " door-open"
            inner.append('<span class="flag">Door open</span>')
        if c.fault:
            classes += " has-fault"
            inner.append(f'<span class="flag">Fault: {escape(c.fault)}</span>')
        if c.discrepancy:
            classes += " has-discrepancy"
            inner.append('<span class="flag">Sensor disagrees</span>')
        parts.append(
            f'<li class="{classes}" data-number="{c.number}" data-state="{escape(c.state)}">'
            f'<a id="cell-{bank}-{c.number}" href="{base}{c.number}">{"".join(inner)}</a></li>'
        )
    # Every piece of text above went through escape() or is a number or our own markup.
    return Markup("".join(parts))  # noqa: S704
