"""Lock boards on a pseudo-terminal, answering as their protocol sheets describe (tests, demos,
installers trying ``lockerbridge driver probe`` without hardware).

``BoardEmulator(family, {address: locks}).start()`` gives a ``path`` (``/dev/pts/N``) to use as
the port; with ``tcp=True`` it listens like a serial-to-Ethernet converter instead and ``path``
is ``127.0.0.1:<port>``. People at the bank act through ``open_by_hand``, ``shut`` and
``set_sensor``; faults are switched with ``jam``, ``corrupt_next``, ``truncate_next``,
``split_replies``, ``unplugged`` and ``echo`` (a half-duplex adapter handing back what was
sent). The raw bits it reports follow the sheets: lock bit set = open, sensor bit set =
occupied; ``inverted`` flips both, like a board wired the other way.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass, field

from lockers.drivers.serial.families import FamilyOptions, board_side_for
from lockers.drivers.serial.frames import BoardStatus, FrameError, Request, RequestKind


@dataclass
class _Board:
    locks: int
    open: set[int] = field(default_factory=set)
    occupied: set[int] = field(default_factory=set)
    jammed: set[int] = field(default_factory=set)


class BoardEmulator:
    def __init__(
        self,
        family: str,
        boards: dict[int, int],
        *,
        options: FamilyOptions | None = None,
        sensors: bool = True,
        reply_delay: float = 0.005,
        push_reports: bool = False,
        tcp: bool = False,
    ) -> None:
        self.family = family
        self.side = board_side_for(family, options)
        self.boards = {address: _Board(locks) for address, locks in boards.items()}
        self.sensors = sensors
        self.reply_delay = reply_delay
        self.push_reports = push_reports
        self.unplugged = False
        self.echo = False
        self.split_replies = False
        self.inverted = False
        self.received: list[Request] = []
        self.bad_frames = 0
        self._corrupt = 0
        self._truncate = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        self.path = os.ttyname(self._slave)
        if tcp:
            self._listener = socket.create_server(("127.0.0.1", 0))
            self.path = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, name="board-emulator", daemon=True)

    def start(self) -> BoardEmulator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        for sock in (self._client, self._listener):
            if sock is not None:
                sock.close()

    def __enter__(self) -> BoardEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- people and faults ---------------------------------------------------------------------

    def open_by_hand(self, board: int, lock: int) -> None:
        """A door opened with a key or forced: no command involved."""
        self._set_door(board, lock, True)

    def shut(self, board: int, lock: int) -> None:
        self._set_door(board, lock, False)

    def is_open(self, board: int, lock: int) -> bool:
        with self._lock:
            return lock in self.boards[board].open

    def set_sensor(self, board: int, sensor: int, occupied: bool) -> None:
        with self._lock:
            target = self.boards[board].occupied
            target.add(sensor) if occupied else target.discard(sensor)

    def jam(self, board: int, lock: int, jammed: bool = True) -> None:
        with self._lock:
            target = self.boards[board].jammed
            target.add(lock) if jammed else target.discard(lock)

    def corrupt_next(self, replies: int = 1) -> None:
        """The next replies go out with a wrong checksum byte."""
        with self._lock:
            self._corrupt += replies

    def truncate_next(self, replies: int = 1) -> None:
        """The next replies stop half-way (a partial frame that never completes)."""
        with self._lock:
            self._truncate += replies

    def opens(self) -> list[tuple[int, int | None]]:
        with self._lock:
            return [(r.board, r.lock) for r in self.received if r.kind is RequestKind.OPEN]

    # -- the wire ------------------------------------------------------------------------------

    def _set_door(self, board: int, lock: int, is_open: bool) -> None:
        with self._lock:
            target = self.boards[board].open
            changed = (lock in target) != is_open
            target.add(lock) if is_open else target.discard(lock)
            report = None
            if changed and self.push_reports and not self.unplugged:
                report = self.side.change_report(board, lock, is_open != self.inverted)
        if report is not None:
            self._write(report)

    def _fd(self) -> int | None:
        """The board end of the cable: the pty, or the converter's current TCP client."""
        if self._listener is None:
            return self._master
        if self._client is None:
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if ready:
                self._client, _ = self._listener.accept()
        return None if self._client is None else self._client.fileno()

    def _run(self) -> None:
        buffer = bytearray()
        while not self._stop.is_set():
            fd = self._fd()
            if fd is None:
                continue
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                if self._client is None:
                    return  # the pty was closed: stopping
                chunk = b""  # connection reset: as good as hung up
            if not chunk and self._client is not None:
                self._client.close()  # the host hung up; the converter waits for the next one
                self._client = None
                buffer.clear()
                continue
            with self._lock:
                if self.unplugged:
                    continue  # nobody at the other end of the cable
                if self.echo:
                    self._write(chunk)
            buffer += chunk
            while True:
                try:
                    request = self.side.take_request(buffer)
                except FrameError:
                    self.bad_frames += 1  # a real board stays silent on a bad checksum
                    continue
                if request is None:
                    break
                self._answer(request)

    def _answer(self, request: Request) -> None:
        with self._lock:
            self.received.append(request)
            board = self.boards.get(request.board)
            if board is None:
                return  # no board at that address: silence
            if request.kind is RequestKind.OPEN and request.lock is not None:
                if request.lock not in board.jammed:
                    board.open.add(request.lock)
                feedback = (request.lock in board.open) != self.inverted
                reply = self.side.open_reply(request.board, request.lock, feedback)
            else:
                flip = self.inverted
                locks = {n: (n in board.open) != flip for n in range(1, board.locks + 1)}
                sensors = {}
                if self.sensors:
                    sensors = {n: (n in board.occupied) != flip for n in range(1, board.locks + 1)}
                status = BoardStatus(request.board, locks, sensors)
                count = len(sensors) if self.sensors else 0
                reply = self.side.status_reply(request, status, board.locks, count)
            if self._corrupt:
                self._corrupt -= 1
                reply = reply[:-1] + bytes([reply[-1] ^ 0x5A])
            elif self._truncate:
                self._truncate -= 1
                reply = reply[: len(reply) // 2]
            split = self.split_replies
        time.sleep(self.reply_delay)
        if split and len(reply) > 2:
            self._write(reply[:2])
            time.sleep(0.03)
            reply = reply[2:]
        self._write(reply)

    def _write(self, data: bytes) -> None:
        fd = self._master if self._listener is None else None
        if self._client is not None:
            fd = self._client.fileno()
        if fd is not None:
            with contextlib.suppress(OSError):
                os.write(fd, data)


def main(argv: list[str] | None = None) -> int:
    """``python -m lockers.drivers.serial.emulator xor8a 1:24 2:24``: boards to try the probe
    or a bank on, until Ctrl-C. Prints the port to use."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lockers.drivers.serial.emulator")
    parser.add_argument("family")
    parser.add_argument("boards", nargs="+", help="ADDRESS:LOCKS, e.g. 1:24")
    parser.add_argument("--tcp", action="store_true", help="listen on 127.0.0.1 instead of a pty")
    args = parser.parse_args(argv)
    boards = {int(a): int(n) for a, _, n in (b.partition(":") for b in args.boards)}
    with BoardEmulator(args.family, boards, tcp=args.tcp) as emulator:
        print(emulator.path, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
