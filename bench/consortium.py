"""Consortium scale: the staff overview, one bank's page and the work list at 5 to 500 banks.

Each bank has 40 compartments (30 pickup doors, 10 return doors), seeded like
``bench.status_page`` (two in three pickup doors holding an item, some expired, some faulty),
so 5 banks are 200 compartments and 500 banks are 20,000. A staff user signs in through the
real form and Flask's test client times, per size and in the same run (the installations are
open side by side and the requests alternate between them):

- the status page ``GET /staff/`` (health panel and the first page of the bank overview);
- one bank's page ``GET /staff/banks/<id>`` (its grid of 40 doors);
- the work list of every bank ``GET /staff/work`` and of one bank ``GET /staff/work?bank=<id>``.

Targets (issue 24): overview p95 at 500 banks within 2x of its p95 at 5 banks; one bank's page
and one bank's work list independent of the number of banks (here: within 1.5x, to leave room
for a shared machine). The work list of every bank grows with what there is to do (the seed has
a removal due in one pickup door in twelve), so it is reported without a target.
"""

from __future__ import annotations

import contextlib

from bench.figures import Figure, percentile
from bench.status_page import status_client, time_pages

PER_BANK = 40
REPRODUCE = "python -m bench --only consortium"
OVERVIEW_TARGET = 2.0
BANK_PAGE_TARGET = 1.5


PAGES = {
    "overview": "/staff/",
    "bank page": "/staff/banks/bank-000",
    "work list (every bank)": "/staff/work",
    "work list of one bank": "/staff/work?bank=bank-000",
}


def _measure(sizes: tuple[int, ...], repeat: int) -> dict[tuple[str, int], list[float]]:
    """Samples (ms) of each page at each number of banks. Every installation is open at once
    and the requests alternate between them, so a busy moment of a shared machine falls on
    every size alike instead of on whichever size was measured then."""
    with contextlib.ExitStack() as stack:
        clients = {n: stack.enter_context(status_client(n * PER_BANK, PER_BANK)) for n in sizes}
        return time_pages(clients, PAGES, repeat)


def _scaling(name: str, p95: dict[int, float], target: float | None) -> Figure:
    first, last = min(p95), max(p95)
    ratio = p95[last] / p95[first]
    return Figure(
        name=f"{name} p95 at {last:,} banks / at {first:,} banks",
        value=ratio,
        unit="x",
        target=f"<= {target:g}x" if target else None,
        passed=(ratio <= target) if target else None,
        baseline=f"{name} p95 at {first:,} banks ({first * PER_BANK:,} compartments): "
        f"{p95[first]:.1f} ms, same run",
        reproduce=REPRODUCE,
        samples=[float(v) for n in sorted(p95) for v in (n, p95[n])],
        plot="growth",
        samples_unit="p95 ms",
        x_label="banks",
    )


def run(quick: bool) -> list[Figure]:
    sizes = (2, 5) if quick else (5, 50, 500)
    repeat = 5 if quick else 60
    p95: dict[str, dict[int, float]] = {}
    figures: list[Figure] = []
    samples = _measure(sizes, repeat)
    for banks in sizes:
        for name in PAGES:
            values = samples[name, banks]
            p95.setdefault(name, {})[banks] = percentile(values, 95)
            figures.append(
                Figure(
                    name=f"{name} p95 at {banks:,} banks ({banks * PER_BANK:,} compartments)",
                    value=percentile(values, 95),
                    unit="ms",
                    reproduce=REPRODUCE,
                    samples=values if banks == sizes[-1] else [],
                    plot="distribution" if banks == sizes[-1] else None,
                )
            )
    figures.append(_scaling("overview", p95["overview"], OVERVIEW_TARGET))
    figures.append(_scaling("bank page", p95["bank page"], BANK_PAGE_TARGET))
    one_bank = "work list of one bank"
    figures.append(_scaling(one_bank, p95[one_bank], BANK_PAGE_TARGET))
    # Every bank's work list grows with the work to do (removals due at 500 banks), not
    # with the banks as such; reported without a target.
    figures.append(_scaling("work list (every bank)", p95["work list (every bank)"], None))
    return figures
