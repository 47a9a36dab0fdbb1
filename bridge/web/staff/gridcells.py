"""The compartment cells of a grid, rendered in Python.

A status page may show thousands of doors and is polled every few seconds; one Jinja loop
iteration per door (with autoescaping of every field) cost about a millisecond per 10 doors on
the target machine. Here each cell is one f-string, and only text that can hold markup
(fault descriptions, masked patron data, titles and barcodes) is escaped. The markup matches
``_grid.html``'s needs.
"""

from __future__ import annotations

import functools
from datetime import datetime

from markupsafe import Markup, escape

from bridge.web.staff.filters import duration, state_label, when
from bridge.web.staff.queries import BankGrid, Inside

# A door holding a patron's whole order names the first few items and counts the rest.
ITEMS_SHOWN = 3


def _inside(items: Inside) -> str:
    parts = [
        f'<span class="meta item">{escape(title)} · {escape(barcode)}</span>'
        if title
        else f'<span class="meta item">Item {escape(barcode)}</span>'
        for barcode, title in items[:ITEMS_SHOWN]
    ]
    if len(items) > ITEMS_SHOWN:
        parts.append(f'<span class="meta">and {len(items) - ITEMS_SHOWN} more</span>')
    return "".join(parts)


@functools.lru_cache(maxsize=32_768)
def _door(bank: str, number: int, size: str, purpose: str, base: str) -> tuple[str, str]:
    """The parts of a cell that change only with the bank's layout, escaped once per process:
    (link start with the number, size line). Keyed by value: a changed layout is a new key."""
    meta = escape(size) + (f" · {escape(purpose)}" if purpose != "pickup" else "")
    return (
        f'<a id="cell-{escape(bank)}-{number}" href="{escape(base)}{number}">'
        f'<span class="num">{number}</span>',
        f'<span class="meta">{meta}</span>',
    )


@functools.lru_cache(maxsize=64)
def _state(state: str) -> tuple[str, str, str]:
    """(class attribute start, data-state value, the state line) per state."""
    return (
        f"cell s-{escape(state)}",
        str(escape(state)),
        f'<span class="state">{escape(state_label(state))}</span>',
    )


def cells_html(grid: BankGrid, zone: str, cell_base: str) -> Markup:
    parts: list[str] = []
    until: dict[datetime, str] = {}  # many doors share an expiry time
    for c in grid.cells:
        link, meta = _door(grid.bank_id, c.number, c.size, c.purpose, cell_base)
        classes, data_state, state_line = _state(c.state)
        inner = [link, state_line, meta]
        if c.capacity > 1:
            inner.append(f'<span class="meta">{c.deposits} of {c.capacity} returns</span>')
        if c.inside:
            inner.append(_inside(c.inside))
        if c.waited:
            inner.append(f'<span class="meta">waited {duration(c.waited)}</span>')
        if c.expires_at:
            shown = until.get(c.expires_at)
            if shown is None:
                shown = until[c.expires_at] = when(c.expires_at, zone)
            inner.append(f'<span class="meta">until {shown}</span>')
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
            f'<li class="{classes}" data-number="{c.number}" data-state="{data_state}">'
            f"{''.join(inner)}</a></li>"
        )
    # Every piece of text above went through escape() or is a number or our own markup.
    return Markup("".join(parts))  # noqa: S704
