"""Staff tool: ask an ACS one question and print the decoded reply, PINs and names masked.

    python -m sip2.cli ping --host ils.example.org --port 6001 --user lockers --password ...
    python -m sip2.cli item 39000000000001 ...
    python -m sip2.cli patron 23000000000001 --pin 1234 ...
    python -m sip2.cli checkin 39000000000001 ...      (AP = --location, returned now)
    python -m sip2.cli checkout 23000000000001 39000000000001 --pin 1234 ...

``patron --pin`` says "PIN accepted" or "PIN not accepted" (the reply's CQ); the PIN itself,
names and contact data are never printed.

Exit status: 0 reply received (even a refusal: it is printed), 2 usage, 3 ILS unavailable or
login refused, 4 outcome unknown, 5 protocol error. ``lockerbridge sip2 ...`` delegates here
(with ``--bank``/``--ils`` it takes the connection and the login from the configuration).
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from sip2.client import SipClient
from sip2.config import ENCODINGS, ServerConfig, SipAccount
from sip2.errors import IlsUnavailable, OutcomeUnknown, ProtocolError
from sip2.masking import MASK
from sip2.messages import FIELD_NAMES
from sip2.transport import TlsConfig

# Result attributes that are secrets or personal data: printed masked when present.
_MASKED_ATTRIBUTES = frozenset(
    {"personal_name", "hold_patron_name", "home_address", "email", "phone"}
)
_MASKED_CODES = frozenset({"AD", "CO", "CQ", "DA", "AE", "BD", "BE", "BF"})


def build_parser(configured: bool = False) -> argparse.ArgumentParser:
    """``configured``: the connection comes from the configuration; no --host/--port needed."""
    parser = argparse.ArgumentParser(prog="sip2", description="Ask a SIP2 ACS one question.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", required=not configured)
    common.add_argument("--port", type=int, required=not configured)
    common.add_argument("--user", default="", help="SIP login (93 CN)")
    common.add_argument(
        "--password",
        default=os.environ.get("SIP2_PASSWORD", ""),
        help="SIP password (93 CO); default from $SIP2_PASSWORD so it stays out of shell history",
    )
    common.add_argument("--location", default="", help="93 CP and checkin AP")
    common.add_argument("--institution", default="", help="AO")
    common.add_argument("--tls", action="store_true")
    common.add_argument("--ca-file")
    common.add_argument("--encoding", default="utf-8", choices=ENCODINGS)
    common.add_argument(
        "--checksums",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="send AY/AZ (error detection); on by default, as in the configuration",
    )
    common.add_argument("--timeout", type=float, default=10.0)
    common.add_argument("--no-login", action="store_true", help="for an ACS that wants no 93")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("ping", parents=[common], help="login + 99 SC status")
    patron = sub.add_parser("patron", parents=[common], help="63 patron information")
    patron.add_argument("patron")
    patron.add_argument("--pin")
    item = sub.add_parser("item", parents=[common], help="17 item information")
    item.add_argument("item")
    checkin = sub.add_parser("checkin", parents=[common], help="09 checkin at --location")
    checkin.add_argument("item")
    checkout = sub.add_parser("checkout", parents=[common], help="11 checkout")
    checkout.add_argument("patron")
    checkout.add_argument("item")
    checkout.add_argument("--pin")
    return parser


def _show(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (frozenset, set)):
        return ", ".join(sorted(_show(v) for v in value)) or "-"
    if isinstance(value, tuple):
        return " | ".join(_show(v) for v in value) or "-"
    return "-" if value is None else str(value)


def _print_result(result: Any, out: TextIO) -> None:
    print(type(result).__name__, file=out)
    for item in dataclasses.fields(result):
        if item.name in ("raw_fields", "problems"):
            continue
        value = getattr(result, item.name)
        shown = MASK if item.name in _MASKED_ATTRIBUTES and value is not None else _show(value)
        print(f"  {item.name:<24} {shown}", file=out)
    print("  fields as sent:", file=out)
    for code, value in result.raw_fields:
        shown = MASK if code in _MASKED_CODES and value else value
        print(f"    {code} {FIELD_NAMES.get(code, 'vendor field'):<24} {shown}", file=out)
    for problem in result.problems:
        print(f"  decoding note: {problem}", file=out)


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    server: ServerConfig | None = None,
    account: SipAccount | None = None,
) -> int:
    """Run one command; returns the exit status (see the module docstring).

    ``server`` and ``account`` (from a configuration file) replace the connection options.
    """
    out = out or sys.stdout
    try:
        args = build_parser(configured=server is not None).parse_args(
            list(argv) if argv is not None else None
        )
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    if server is None:
        tls = TlsConfig(ca_file=args.ca_file) if args.tls or args.ca_file else None
        server = ServerConfig(
            host=args.host,
            port=args.port,
            tls=tls,
            encoding=args.encoding,
            error_detection=args.checksums,
            request_timeout=args.timeout,
            connect_timeout=min(args.timeout, 5.0),
            heartbeat_interval=None,
        )
    if account is None:
        account = SipAccount(
            user=args.user,
            password=args.password,
            location=args.location,
            institution=args.institution,
            login=not args.no_login,
        )
    location = args.location or account.location
    try:
        with SipClient.for_server(server, account, max_connections=1) as client:
            result: Any
            if args.command == "ping":
                result = client.sc_status()
            elif args.command == "patron":
                result = client.patron_information(args.patron, pin=args.pin)
            elif args.command == "item":
                result = client.item_information(args.item)
            elif args.command == "checkin":
                result = client.checkin(args.item, location=location, returned_at=datetime.now(UTC))
            else:
                result = client.checkout(args.patron, args.item, pin=args.pin)
    except IlsUnavailable as exc:
        print(f"ILS unavailable: {exc}", file=sys.stderr)
        return 3
    except OutcomeUnknown as exc:
        print(f"outcome unknown (check the item before retrying): {exc}", file=sys.stderr)
        return 4
    except ProtocolError as exc:
        print(f"protocol error ({exc.fault.value}'s fault): {exc}", file=sys.stderr)
        return 5
    _print_result(result, out)
    if args.command == "patron" and args.pin is not None:
        verdict = {True: "PIN accepted", False: "PIN not accepted"}.get(
            result.pin_valid, "PIN not checked (the reply has no CQ)"
        )
        print(verdict, file=out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
