"""Runs every benchmark module listed in ``SUITES`` and writes the report.

``python -m bench --quick`` (CI) only checks that each benchmark still runs;
``python -m bench --report docs/performance.md`` is the full run for a release.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from bench.figures import Figure
from bench.report import write_report

# Each module has ``run(quick: bool) -> list[Figure]``.
SUITES = [
    "bench.sip2_roundtrip",
    "bench.allocation",
    "bench.pickup",
    "bench.returns",
    "bench.status_page",
    "bench.memory",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes; checks the suite runs")
    parser.add_argument("--report", help="write the Markdown report here (JSON and plots beside)")
    parser.add_argument("--only", action="append", help="run only suites whose name contains this")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    failed: list[str] = []
    for name in SUITES:
        if args.only and not any(part in name for part in args.only):
            continue
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                print(f"bench: {name} not present, skipped")
                continue
            raise
        print(f"bench: running {name}", flush=True)
        try:
            got = module.run(quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for fig in got:
            mark = {True: "pass", False: "MISS", None: "-"}[fig.passed]
            print(f"  {fig.name}: {fig.value:.4g} {fig.unit} [{mark}]", flush=True)
        figures.extend(got)
    if args.report:
        write_report(figures, args.report)
        print(f"bench: report written to {args.report}")
    if failed:
        print(f"bench: {len(failed)} suite(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
