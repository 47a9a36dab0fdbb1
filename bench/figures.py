"""The one value type every benchmark returns, and helpers for percentiles and ratios."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """One measured figure of the performance report.

    ``value`` is what the target is judged on; machine-dependent figures are ratios against
    ``baseline`` (a measurement of the same run), so that a noisy shared machine does not move them.
    """

    name: str
    value: float
    unit: str
    target: str | None = None
    passed: bool | None = None
    baseline: str | None = None
    reproduce: str = ""
    samples: list[float] = field(default_factory=list)
    plot: str | None = None  # "distribution" or "growth"; growth samples are (x, y) pairs flattened
    # Axis labels for the plot: the samples' unit when it is not ``unit`` (e.g. a ratio figure
    # whose distribution is drawn in ms), and what x counts in a growth plot.
    samples_unit: str | None = None
    x_label: str | None = None
    suite: str = ""  # filled in by the runner: the module that measured it


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile; ``pct`` in 0..100."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    return statistics.median(values)


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds per call of ``fn``, one sample per call."""
    out: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out
