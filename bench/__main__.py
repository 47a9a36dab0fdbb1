"""Runs every benchmark module listed in ``SUITES`` and writes the report.

``python -m bench --quick`` (CI) only checks that each benchmark still runs: small sizes, and the
exit status says whether every suite ran, never whether a target was met (a shared CI machine
says nothing about speed);
``python -m bench --report docs/performance.md`` is the full run for a release (under 10 min).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import time
import traceback
from collections.abc import Sequence

from bench.report import SuiteRun, write_report

# Each module has ``run(quick: bool) -> list[Figure]``.
SUITES = [
    "bench.sip2_roundtrip",
    "bench.allocation",
    "bench.pickup",
    "bench.returns",
    "bench.sip2_logins",
    "bench.status_page",
    "bench.consortium",
    "bench.database",
    "bench.memory",
]


def run_suite(name: str, *, quick: bool) -> SuiteRun | None:
    """Import and run one suite; None when its module does not exist (yet)."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            print(f"bench: {name} not present, skipped")
            return None
        raise
    print(f"bench: running {name}", flush=True)
    start = time.perf_counter()
    try:
        got = module.run(quick=quick)
    except Exception:
        traceback.print_exc()
        error = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return SuiteRun(name, [], time.perf_counter() - start, error=error, doc=module.__doc__)
    seconds = time.perf_counter() - start
    figures = [dataclasses.replace(fig, suite=name) for fig in got]
    for fig in figures:
        mark = {True: "pass", False: "MISS", None: "-"}[fig.passed]
        print(f"  {fig.name}: {fig.value:.4g} {fig.unit} [{mark}]", flush=True)
    print(f"  ({seconds:.1f} s)", flush=True)
    return SuiteRun(name, figures, seconds, doc=module.__doc__)


def main(argv: Sequence[str] | None = None, suites: Sequence[str] = SUITES) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes; checks the suite runs")
    parser.add_argument("--report", help="write the Markdown report here (JSON and plots beside)")
    parser.add_argument("--only", action="append", help="run only suites whose name contains this")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    runs: list[SuiteRun] = []
    for name in suites:
        if args.only and not any(part in name for part in args.only):
            continue
        done = run_suite(name, quick=args.quick)
        if done is not None:
            runs.append(done)
    total = time.perf_counter() - start
    print(f"bench: {len(runs)} suite(s) in {total:.0f} s")
    if args.report:
        write_report(runs, args.report, quick=args.quick, seconds=total, load=load)
        print(f"bench: report written to {args.report}")
    failed = [run.name for run in runs if run.error]
    if failed:
        print(f"bench: {len(failed)} suite(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
