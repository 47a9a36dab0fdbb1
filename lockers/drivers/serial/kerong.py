"""Kerong KR-CU16 and KR-CU48 lock-control boards (STX ... ETX, additive checksum).

Source: Kerong's published communication protocol sheets for the KR-CU16 and the KR-CU48
(their frame format and command tables), 19200 8N1. Written from those sheets as we know them;
they were not at hand to re-check while this module was written, and no production board was
on the bench. We are surer of the CU16 than of the CU48 details:

    CU16 request   02 <addr> <cmd> 03 <sum>         addr: high nibble board 0-15,
                                                     low nibble lock 0-15 (= lock 1-16)
    CU48 request   02 <board> <lock> <cmd> 03 <sum>  lock 0-47 (= lock 1-48)

``<sum>`` is the low byte of the sum of every byte before it, STX and ETX included.
Commands: CU16 30 = read status, 31 = unlock; CU48 50 = read status, 51 = unlock.

A status reply carries the lock bitmap (one bit per lock, lowest lock in the lowest bit of the
first byte) followed, on boards with infrared inputs, by the sensor bitmap; whether the board
sends that second bitmap is the ``sensors`` setting, which fixes the reply's length (a data
byte may equal ETX, so frames are cut by length, not by searching for ETX). What we are not
sure of, we accept rather than assume: the reply's command byte is not checked (we believe
the CU16 answers a status read with 35 and the CU48 with 65, and the emulator does so), and an
unlock reply with or without a trailing state byte is taken as "accepted" and confirmed by
reading the status afterwards. Lock bit set is read as "open"; boards wired the other way are
the polarity setting's business.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockers.drivers.serial.frames import (
    BoardStatus,
    FrameError,
    OpenReply,
    Reply,
    Request,
    RequestKind,
    bits_to_map,
    drop_until,
    map_to_bits,
    sum8,
)

STX = 0x02
ETX = 0x03


@dataclass(frozen=True)
class _Variant:
    name: str
    status_cmd: int
    unlock_cmd: int
    status_reply_cmd: int
    locks: int
    separate_lock_byte: bool
    max_board: int


CU16 = _Variant("kerong-cu16", 0x30, 0x31, 0x35, 16, False, 15)
CU48 = _Variant("kerong-cu48", 0x50, 0x51, 0x65, 48, True, 31)


def _frame(*body: int) -> bytes:
    data = bytes([STX, *body, ETX])
    return data + bytes([sum8(data)])


def _header(variant: _Variant, board: int, lock: int | None) -> tuple[int, ...]:
    index = 0 if lock is None else lock - 1
    if not 0 <= board <= variant.max_board or not 0 <= index < variant.locks:
        raise ValueError(f"{variant.name} has no board {board} lock {lock}")
    if variant.separate_lock_byte:
        return (board, index)
    return ((board << 4) | index,)


def _split(buffer: bytearray, sizes: tuple[int, ...]) -> bytes | None:
    """One frame of one of the expected ``sizes`` from the front of ``buffer``; None while
    incomplete. The size is known from the request: data bytes may well equal ETX."""
    drop_until(buffer, bytes([STX]))
    for size in sorted(sizes):
        if len(buffer) < size:
            return None
        if buffer[size - 2] == ETX and sum8(bytes(buffer[: size - 1])) == buffer[size - 1]:
            frame = bytes(buffer[:size])
            del buffer[:size]
            return frame
    del buffer[:1]  # resynchronise on the next STX
    raise FrameError("no ETX with a matching checksum where the frame should end")


@dataclass(frozen=True)
class KerongCodec:
    variant: _Variant = CU16
    sensors: bool = True

    @property
    def family(self) -> str:
        return self.variant.name

    @property
    def addresses(self) -> range:
        return range(0, self.variant.max_board + 1)

    def open_lock(self, board: int, lock: int) -> Request:
        head = _header(self.variant, board, lock)
        return Request(RequestKind.OPEN, board, lock, _frame(*head, self.variant.unlock_cmd))

    def read_board(self, board: int) -> Request:
        head = _header(self.variant, board, None)
        return Request(RequestKind.STATUS, board, None, _frame(*head, self.variant.status_cmd))

    def take_reply(self, request: Request | None, buffer: bytearray) -> Reply | None:
        if request is None:
            del buffer[:]  # these boards never speak unasked
            return None
        head = 3 if self.variant.separate_lock_byte else 2
        width = (self.variant.locks + 7) // 8
        if request.kind is RequestKind.OPEN:
            sizes: tuple[int, ...] = (head + 3, head + 4)  # with or without a state byte
        else:
            sizes = (head + 3 + width * (2 if self.sensors else 1),)
        frame = _split(buffer, sizes)
        if frame is None:
            return None
        board = frame[1] if self.variant.separate_lock_byte else frame[1] >> 4
        if board != request.board:
            raise FrameError(f"reply from board {board}, asked board {request.board}")
        data = frame[head + 1 : -2]
        if request.kind is RequestKind.OPEN:
            return OpenReply(board, request.lock or 0, None)
        locks = bits_to_map(data[:width], self.variant.locks)
        sensors = {}
        if self.sensors:
            sensors = bits_to_map(data[width : 2 * width], self.variant.locks)
        return BoardStatus(board, locks, sensors)


@dataclass(frozen=True)
class KerongBoard:
    variant: _Variant = CU16

    def take_request(self, buffer: bytearray) -> Request | None:
        frame = _split(buffer, (6 if self.variant.separate_lock_byte else 5,))
        if frame is None:
            return None
        if self.variant.separate_lock_byte:
            board, index, cmd = frame[1], frame[2], frame[3]
        else:
            board, index, cmd = frame[1] >> 4, frame[1] & 0x0F, frame[2]
        if cmd == self.variant.unlock_cmd:
            return Request(RequestKind.OPEN, board, index + 1, frame)
        if cmd == self.variant.status_cmd:
            return Request(RequestKind.STATUS, board, None, frame)
        raise FrameError(f"unknown command {cmd:#04x}")

    def open_reply(self, board: int, lock: int, feedback: bool) -> bytes:
        return _frame(*_header(self.variant, board, lock), self.variant.unlock_cmd)

    def status_reply(
        self, request: Request, status: BoardStatus, lock_count: int, sensor_count: int
    ) -> bytes:
        locks = map_to_bits(status.locks, self.variant.locks)
        sensors = map_to_bits(status.sensors, self.variant.locks) if sensor_count else b""
        head = _header(self.variant, status.board, None)
        return _frame(*head, self.variant.status_reply_cmd, *locks, *sensors)

    def change_report(self, board: int, lock: int, bit: bool) -> bytes | None:
        return None
