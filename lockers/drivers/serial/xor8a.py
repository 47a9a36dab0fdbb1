"""The common "0x8A / 0x80" lock-control boards (12, 16 or 24 locks, addressed by DIP switch).

Source: the sellers' protocol sheet for these boards (usually titled along the lines of "lock
control board communication protocol"; title, version and section names vary by seller), its
command table, 9600 8N1. Written from that public sheet as we know it; it was not at hand to
re-check while this module was written, and no production board was on the bench:

    open lock         8A <board> <lock> 11 <xor>      reply 8A <board> <lock> <state> <xor>
    read one lock     80 <board> <lock> 33 <xor>      reply 80 <board> <lock> <state> <xor>
    read all locks    80 <board> 00 33 <xor>          reply 80 <board> <bitmap...> 33 <xor>

``<xor>`` is the XOR of every byte before it. ``<state>`` is 11 for "open" and 00 for "closed"
(that is how we read the sheet; the polarity setting covers boards wired the other way). The
all-locks bitmap has one byte per eight locks; we read the sheet's 24-lock example as listing
the highest locks first but are not sure of it, so the byte order is a setting
(``high_first``).
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
    xor,
)

OPEN = 0x8A
READ = 0x80
OPEN_PARAM = 0x11
READ_PARAM = 0x33
STATE_OPEN = 0x11
STATE_CLOSED = 0x00


def _frame(*body: int) -> bytes:
    data = bytes(body)
    return data + bytes([xor(data)])


@dataclass(frozen=True)
class Xor8aCodec:
    locks_per_board: int = 24
    high_first: bool = True
    family: str = "xor8a"
    # Five DIP switches; address 0 is left alone (some batches treat it as broadcast).
    addresses: range = range(1, 32)

    @property
    def _bitmap_bytes(self) -> int:
        return (self.locks_per_board + 7) // 8

    def open_lock(self, board: int, lock: int) -> Request:
        return Request(RequestKind.OPEN, board, lock, _frame(OPEN, board, lock, OPEN_PARAM))

    def read_lock(self, board: int, lock: int) -> Request:
        return Request(RequestKind.STATUS, board, lock, _frame(READ, board, lock, READ_PARAM))

    def read_board(self, board: int) -> Request:
        return Request(RequestKind.STATUS, board, None, _frame(READ, board, 0, READ_PARAM))

    def take_reply(self, request: Request | None, buffer: bytearray) -> Reply | None:
        drop_until(buffer, bytes([OPEN, READ]))
        if not buffer or request is None:
            del buffer[:]  # these boards never speak unasked
            return None
        whole_board = request.kind is RequestKind.STATUS and request.lock is None
        size = 4 + self._bitmap_bytes if whole_board else 5
        if len(buffer) < size:
            return None
        frame = bytes(buffer[:size])
        if xor(frame[:-1]) != frame[-1]:
            del buffer[:1]  # resynchronise on the next plausible start byte
            raise FrameError(f"checksum mismatch in {frame.hex(' ')}")
        del buffer[:size]
        if frame[0] != (OPEN if request.kind is RequestKind.OPEN else READ):
            raise FrameError(f"reply {frame.hex(' ')} does not answer {request.frame.hex(' ')}")
        if frame[1] != request.board:
            raise FrameError(f"reply from board {frame[1]}, asked board {request.board}")
        if whole_board:
            bitmap = frame[2:-2]
            locks = bits_to_map(bitmap, self.locks_per_board, lsb_first_byte=not self.high_first)
            return BoardStatus(frame[1], locks)
        state = _state(frame[3])
        if request.kind is RequestKind.OPEN:
            return OpenReply(frame[1], frame[2], state)
        return BoardStatus(frame[1], {frame[2]: state})


def _state(byte: int) -> bool:
    if byte == STATE_OPEN:
        return True
    if byte == STATE_CLOSED:
        return False
    raise FrameError(f"unknown lock state byte {byte:#04x}")


@dataclass(frozen=True)
class Xor8aBoard:
    """The board's side: parses commands and builds the replies the sheet prints."""

    high_first: bool = True

    def take_request(self, buffer: bytearray) -> Request | None:
        drop_until(buffer, bytes([OPEN, READ]))
        if len(buffer) < 5:
            return None
        frame = bytes(buffer[:5])
        if xor(frame[:4]) != frame[4]:
            del buffer[:1]
            raise FrameError(f"checksum mismatch in {frame.hex(' ')}")
        del buffer[:5]
        if frame[0] == OPEN:
            return Request(RequestKind.OPEN, frame[1], frame[2], frame)
        return Request(RequestKind.STATUS, frame[1], frame[2] or None, frame)

    def open_reply(self, board: int, lock: int, feedback: bool) -> bytes:
        return _frame(OPEN, board, lock, STATE_OPEN if feedback else STATE_CLOSED)

    def status_reply(
        self, request: Request, status: BoardStatus, lock_count: int, sensor_count: int
    ) -> bytes:
        if request.lock is not None:
            bit = status.locks.get(request.lock, False)
            return _frame(READ, status.board, request.lock, STATE_OPEN if bit else STATE_CLOSED)
        bitmap = map_to_bits(status.locks, lock_count, lsb_first_byte=not self.high_first)
        return _frame(READ, status.board, *bitmap, READ_PARAM)

    def change_report(self, board: int, lock: int, bit: bool) -> bytes | None:
        return None
