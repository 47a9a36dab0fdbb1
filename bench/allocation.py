"""Allocation time per request at 100, 1,000 and 10,000 compartments.

The judged figure is the growth ratio of the median time from 100 to 10,000 compartments: a
linear-time allocator would show ~100, ours should stay far below (target: < 100). Each bank
is half full, with a realistic mix of sizes, heights and purposes; requests are one to three
items, some with an accessible reach, some for patrons who already have a door.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

from bench.figures import Figure, median, timed
from lockers.allocation import Allocation, allocate, apply_allocation
from lockers.bank import Bank
from lockers.model import Compartment, Item, Purpose, Reach, SizeClass

SIZES = (100, 1_000, 10_000)
T0 = datetime(2024, 1, 1, tzinfo=UTC)
_SIZE_MIX = [SizeClass.S] * 4 + [SizeClass.M] * 3 + [SizeClass.L] * 2 + [SizeClass.XL]
_HEIGHTS = (15, 45, 75, 105, 135, 165)


def build(n: int, seed: int = 1) -> Bank:
    rng = random.Random(seed)
    compartments = [
        Compartment(
            bank_id="bench",
            number=number,
            size=rng.choice(_SIZE_MIX),
            purpose=Purpose.EQUIPMENT if number % 10 == 0 else Purpose.PICKUP,
            height_cm=_HEIGHTS[number % len(_HEIGHTS)],
        )
        for number in range(1, n + 1)
    ]
    bank = Bank("bench", compartments)
    for n_item in range(n // 3):  # fill about half of the doors
        item = Item(f"fill{n_item}", f"fp{n_item}", rng.choice(_SIZE_MIX[:7]))
        result = allocate(bank, [item])
        if isinstance(result, Allocation):
            apply_allocation(bank, result, at=T0, actor="bench")
    return bank


def requests(count: int, n: int, seed: int = 2) -> list[tuple[list[Item], Reach | None]]:
    rng = random.Random(seed)
    out: list[tuple[list[Item], Reach | None]] = []
    for k in range(count):
        # One in four requests is for a patron who already has a door here.
        patron = f"fp{rng.randrange(n // 3)}" if k % 4 == 0 else f"new{k}"
        items = [
            Item(f"r{k}-{j}", patron, rng.choice(_SIZE_MIX[:8])) for j in range(rng.randint(1, 3))
        ]
        out.append((items, Reach(40, 120) if k % 3 == 0 else None))
    return out


def per_request_seconds(n: int, repeat: int) -> list[float]:
    bank = build(n)
    reqs = requests(64, n)
    samples: list[float] = []
    for items, reach in reqs:
        call = lambda items=items, reach=reach: allocate(bank, items, reach=reach)  # noqa: E731
        samples.extend(timed(call, repeat))
    return samples


def run(quick: bool) -> list[Figure]:
    repeat = 3 if quick else 40
    medians = {n: median(per_request_seconds(n, repeat)) for n in SIZES}
    growth = medians[SIZES[-1]] / medians[SIZES[0]]
    reproduce = "python -m bench --only allocation"
    figures = [
        Figure(
            name="allocation growth 100 -> 10,000 compartments",
            value=growth,
            unit="x",
            target="< 100 (linear would be 100)",
            passed=growth < 100,
            baseline="median allocate() time at 100 compartments, same run",
            reproduce=reproduce,
            samples=[float(x) for n in SIZES for x in (n, medians[n] * 1e6)],
            plot="growth",
        )
    ]
    figures.extend(
        Figure(
            name=f"allocation time per request at {n:,} compartments",
            value=medians[n] * 1e6,
            unit="us",
            reproduce=reproduce,
        )
        for n in SIZES
    )
    return figures
