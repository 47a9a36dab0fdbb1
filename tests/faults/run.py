"""``python -m tests.faults.run --deposits 1000``: the full fault-injection run, as a table.

Exits 1 when any deposit was lost or checked in twice.
"""

from __future__ import annotations

import argparse
import logging
import sys

from tests.faults.harness import Plan, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.run")
    parser.add_argument("--deposits", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", choices=("auto", "postgresql", "sqlite"), default="auto")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    report = run(
        Plan(deposits=args.deposits, workers=args.workers, seed=args.seed, database=args.database)
    )
    print(report.table())
    for problem in report.problems[:20]:
        print(f"  problem: {problem}")
    if report.slowest:
        print("  slowest deposit's trail: " + " -> ".join(report.slowest))
    ok = report.lost == 0 and report.doubled == 0 and report.deposits == args.deposits
    print("PASS: nothing lost, nothing checked in twice" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
