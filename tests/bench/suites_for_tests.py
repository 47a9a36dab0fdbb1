"""Two tiny benchmark suites for the runner's tests: one that measures, one that breaks."""

from __future__ import annotations

from bench.figures import Figure


def run(quick: bool) -> list[Figure]:
    return [
        Figure(
            "example round trip",
            1.2 if quick else 1.1,
            "x",
            target="<= 1.3",
            passed=True,
            baseline="raw socket, 300 µs",
            reproduce="python -m bench --only example",
            samples=[1.0, 1.1, 1.2, 1.3],
            plot="distribution",
        )
    ]
