"""A benchmark suite whose set-up fails, as a broken one would."""

from __future__ import annotations

from bench.figures import Figure


def run(quick: bool) -> list[Figure]:
    raise RuntimeError("reference ACS did not start")
