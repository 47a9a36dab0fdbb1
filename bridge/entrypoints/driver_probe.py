"""``lockerbridge driver probe``: what is on a lock-board line, for the person installing it.

Without a database or Redis: it talks to the line only (stop the service that polls the same
port first; a serial port has one user). It finds the boards that answer, lists their lock and
sensor inputs, opens one lock on request after asking, and prints the ``[banks.driver]`` table
that wires what it found.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from bridge.config import load_settings
from bridge.infra.lockboards import run_gateway
from lockers.drivers.serial.families import FAMILIES, FamilyOptions, codec_for, default_baud
from lockers.drivers.serial.frames import BoardStatus, OpenReply
from lockers.drivers.serial.transport import Line, LineError, LineSettings
from lockers.errors import ControllerOffline


class ProbeError(Exception):
    """Wrong arguments or configuration; printed as one line."""


@dataclass(frozen=True)
class Target:
    port: str
    family: str
    baud: int
    echo: bool
    options: FamilyOptions
    wiring: dict[int, tuple[int, int]]  # compartment -> (board, lock), from the bank


def add_driver_parser(sub: Any) -> None:
    """Registers ``driver probe`` on the top-level sub-command parser."""
    p = sub.add_parser("driver", help="lock-board hardware")
    dsub = p.add_subparsers(dest="driver_command", required=True)
    d = dsub.add_parser("probe", help="find lock boards on a line, list and open their locks")
    d.add_argument("--bank", help="use this bank's port, family and wiring from the configuration")
    d.add_argument("--port", help="a serial device, host:port of a converter, or socket://...")
    d.add_argument("--family", choices=FAMILIES)
    d.add_argument("--baud", type=int, help="default 9600 (Kerong boards: 19200)")
    d.add_argument("--echo", action="store_true", help="the RS-485 adapter echoes what it sends")
    d.add_argument("--locks-per-board", type=int, default=24, help="xor8a and wkly boards")
    d.add_argument("--boards", help="addresses to try, e.g. 1-4 or 0,3 (default: all)")
    d.add_argument("--timeout", type=float, default=0.2, help="seconds a board has to answer")
    d.add_argument("--open", metavar="BOARD:LOCK", help="open this lock (asks first)")
    d.add_argument("--door", type=int, help="open this compartment of --bank (asks first)")
    d.add_argument("--yes", action="store_true", help="do not ask before opening")
    d.set_defaults(func=cmd_driver_probe)
    g = dsub.add_parser(
        "serve", help="own a bank's lock-board line and serve it over MQTT (run one per line)"
    )
    g.add_argument(
        "--bank",
        action="append",
        required=True,
        help="a bank of kind mqtt with port and family (repeat for every bank on the line)",
    )
    g.set_defaults(func=cmd_driver_serve)


def cmd_driver_serve(args: argparse.Namespace) -> int:

    settings = load_settings(args.config)
    try:
        banks = [settings.bank(bank_id) for bank_id in args.bank]
    except KeyError as exc:
        print(f"error: no bank {exc} in the configuration", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def ready(bank: Any) -> None:
        print(f"serving bank {bank.id} on {bank.driver.port} over MQTT", flush=True)

    try:
        run_gateway(banks, stop, ready=ready)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ControllerOffline as exc:  # the broker cannot be reached
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_driver_probe(args: argparse.Namespace) -> int:
    try:
        return probe(args, sys.stdout, input)
    except ProbeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def probe(args: argparse.Namespace, out: TextIO, ask: Callable[[str], str]) -> int:
    target = _target(args)
    codec = codec_for(target.family, target.options)
    line = Line(
        LineSettings(target.port, baud=target.baud, timeout=args.timeout, echo=target.echo), codec
    )
    try:
        found = _scan(line, _addresses(args.boards, codec.addresses))
        if not found:
            print(f"no board answered on {target.port} as {target.family}", file=out)
            print("check A/B wiring, termination, baud rate, family and board addresses", file=out)
            return 1
        for status in found:
            _describe(status, target, out)
        lock = _lock_to_open(args, target)
        if lock is not None and not _open(line, lock, args.yes, out, ask):
            return 1
    finally:
        line.close()
    print("", file=out)
    print("# configuration for these boards (adjust compartment numbers):", file=out)
    print(_snippet(target, found), file=out)
    return 0


def _target(args: argparse.Namespace) -> Target:
    options = FamilyOptions(locks_per_board=args.locks_per_board)
    if args.bank:
        try:
            bank = load_settings(args.config).bank(args.bank)
        except KeyError:
            raise ProbeError(f"no bank {args.bank!r} in the configuration") from None
        d = bank.driver
        if d.kind != "serial" or not d.port or d.family is None:
            raise ProbeError(f"bank {args.bank!r} is not on serial lock boards (driver.kind)")
        options = FamilyOptions(
            locks_per_board=d.locks_per_board,
            high_first=d.bitmap_order == "high_first",
            sensors=d.board_sensors,
        )
        wiring = {door.compartment: (door.board, door.lock) for door in d.all_doors()}
        return Target(
            args.port or d.port,
            d.family,
            args.baud or d.baud or default_baud(d.family),
            d.echo or args.echo,
            options,
            wiring,
        )
    if not args.port or not args.family:
        raise ProbeError("give --bank, or --port and --family")
    if args.door is not None:
        raise ProbeError("--door needs --bank (its wiring says which lock)")
    baud = args.baud or default_baud(args.family)
    return Target(args.port, args.family, baud, args.echo, options, {})


def _addresses(spec: str | None, default: range) -> list[int]:
    if not spec:
        return list(default)
    out: list[int] = []
    try:
        for part in spec.split(","):
            first, _, last = part.partition("-")
            out.extend(range(int(first), int(last or first) + 1))
    except ValueError:
        raise ProbeError(f"--boards {spec!r}: use numbers and ranges like 1-4,7") from None
    return out


def _scan(line: Line, addresses: list[int]) -> list[BoardStatus]:
    found = []
    for address in addresses:
        try:
            reply = line.exchange(line.codec.read_board(address))
        except LineError as exc:
            if "cannot open" in str(exc):
                raise ProbeError(str(exc)) from exc
            continue
        if isinstance(reply, BoardStatus):
            found.append(reply)
    return found


def _describe(status: BoardStatus, target: Target, out: TextIO) -> None:
    locks = ", ".join(str(n) for n, bit in status.locks.items() if bit) or "none"
    line = f"board {status.board}: {len(status.locks)} locks; inputs set (open): {locks}"
    if status.sensors:
        sensors = ", ".join(str(n) for n, bit in status.sensors.items() if bit) or "none"
        line += f"; sensors set (occupied): {sensors}"
    print(line, file=out)
    doors = sorted(c for c, (b, _) in target.wiring.items() if b == status.board)
    if doors:
        print(f"  wired to compartments {doors[0]}..{doors[-1]} ({len(doors)})", file=out)


def _lock_to_open(args: argparse.Namespace, target: Target) -> tuple[int, int] | None:
    if args.door is not None:
        if args.door not in target.wiring:
            raise ProbeError(f"compartment {args.door} is not wired in bank {args.bank!r}")
        return target.wiring[args.door]
    if args.open is None:
        return None
    board, sep, lock = args.open.partition(":")
    if not sep or not board.isdigit() or not lock.isdigit():
        raise ProbeError(f"--open {args.open!r}: use BOARD:LOCK, e.g. 1:3")
    return int(board), int(lock)


def _open(
    line: Line, lock: tuple[int, int], yes: bool, out: TextIO, ask: Callable[[str], str]
) -> bool:
    board, number = lock
    if not yes:
        try:
            answer = ask(
                f"Open board {board} lock {number} now? Someone should be at the door [y/N] "
            )
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("not opened", file=out)
            return True
    try:
        reply = line.exchange(line.codec.open_lock(board, number))
    except LineError as exc:
        print(f"board {board} did not answer the open command: {exc}", file=out)
        return False
    if isinstance(reply, OpenReply) and reply.feedback is not None:
        state = "set (open)" if reply.feedback else "clear (shut)"
        print(f"board {board} lock {number}: opened, lock input now {state}", file=out)
    else:
        print(f"board {board} lock {number}: the board took the command", file=out)
    try:
        status = line.exchange(line.codec.read_board(board))
    except LineError:
        return True
    if isinstance(status, BoardStatus) and number in status.locks:
        bit = "set" if status.locks[number] else "clear"
        print(f"  read back: lock input {bit}", file=out)
    return True


def _snippet(target: Target, found: list[BoardStatus]) -> str:
    lines = [
        "[banks.driver]",
        'kind = "serial"',
        f'port = "{target.port}"',
        f'family = "{target.family}"',
        f"baud = {target.baud}",
    ]
    if target.echo:
        lines.append("echo = true")
    if target.family in ("xor8a", "wkly"):
        lines.append(f"locks_per_board = {target.options.locks_per_board}")
    first = 1
    for status in found:
        last = first + len(status.locks) - 1
        lines += [
            "",
            "[[banks.driver.door_ranges]]",
            f"first = {first}",
            f"last = {last}",
            f"board = {status.board}",
            "first_lock = 1",
            f"sensors = {'true' if status.sensors else 'false'}",
        ]
        first = last + 1
    return "\n".join(lines)
