"""``lockerbridge acs``: run the reference SIP2 server until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sip2.acs.behaviour import BEHAVIOURS
from sip2.acs.catalogue_file import CatalogueError
from sip2.acs.modes import PRESETS, preset
from sip2.acs.server import ReferenceACS

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[2] / "examples" / "catalogue.json"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockerbridge acs",
        description="Reference SIP2 server (ACS) behaving like Koha, Evergreen or FOLIO.",
    )
    parser.add_argument(
        "--catalogue", type=Path, default=DEFAULT_CATALOGUE, help="catalogue JSON file"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=6001, help="0 picks a free port")
    parser.add_argument("--behaviour", choices=sorted(BEHAVIOURS), default="koha")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="close connections idle this many seconds (Koha's SIP server does)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay before each reply")
    parser.add_argument(
        "--mode",
        choices=sorted(PRESETS),
        default="plain",
        help="imitate a real server's difference (see sip2.acs.modes)",
    )
    parser.add_argument("--zone", help="the server's time zone (IANA name); default per mode")
    parser.add_argument("--workers", type=int, help="serve at most this many connections at once")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; 0 on a clean stop, 2 for a bad catalogue or a busy port."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        changes: dict[str, object] = {}
        if args.zone:
            changes["zone"] = ZoneInfo(args.zone)
        if args.workers:
            changes["workers"] = args.workers
        modes = preset(args.mode, **changes)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        print(f"lockerbridge acs: {exc}", file=sys.stderr)
        return 2
    try:
        acs = ReferenceACS(
            args.catalogue,
            behaviour=args.behaviour,
            host=args.host,
            port=args.port,
            idle_timeout=args.idle_timeout,
            latency=args.latency_ms / 1000,
            modes=modes,
        )
        host, port = acs.start()
    except (CatalogueError, OSError) as exc:
        print(f"lockerbridge acs: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Before the address is printed: whoever reads it may signal at once.
    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"reference ACS ({args.behaviour}) listening on {host}:{port}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        acs.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("reference ACS stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
