"""Boards whose frames start with the ASCII start code "WKLY" (57 4B 4C 59).

Source: the protocol sheet of the boards that use this start code (frame format and command
table), 9600 8N1. Written from that sheet as we know it; it was not at hand to re-check while
this module was written and no production board was on the bench. Of the three families this
is the one we are least sure of: the frame layout below is firm, the command codes less so.

    57 4B 4C 59 <len> <board> <cmd> <data...> <xor>

``<len>`` counts every byte of the frame, start code and checksum included; ``<xor>`` is the
XOR of every byte before it. Commands as we read the sheet's command table:

    82 open one lock        data: lock            reply data: result, lock, state
    83 query one door       data: lock            reply data: lock, state
    84 query all doors      data: none            reply data: bitmap, lowest lock first
    85 door-state change    (board -> host)       data: lock, state
    86 open several locks   data: bitmap          reply data: result

``result`` 00 means done. ``state`` is the door input bit as the board reads it; whether 1 is
"open" depends on the lock's wiring and is the driver's polarity setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from lockers.drivers.serial.frames import (
    BoardStatus,
    ChangeReport,
    FrameError,
    OpenReply,
    Reply,
    Request,
    RequestKind,
    bits_to_map,
    map_to_bits,
    xor,
)

START = b"WKLY"
OPEN_ONE = 0x82
QUERY_ONE = 0x83
QUERY_ALL = 0x84
CHANGED = 0x85
OPEN_MANY = 0x86
MIN_LEN = 8  # start code, len, board, cmd, checksum


def _frame(board: int, cmd: int, *data: int) -> bytes:
    body = START + bytes([len(START) + 4 + len(data), board, cmd, *data])
    return body + bytes([xor(body)])


def _split(buffer: bytearray) -> bytes | None:
    start = buffer.find(START)
    if start < 0:
        # keep a tail that may be the beginning of a start code
        keep = next((k for k in (3, 2, 1) if START.startswith(bytes(buffer[-k:]))), 0)
        del buffer[: len(buffer) - keep]
        return None
    del buffer[:start]
    if len(buffer) < len(START) + 1:
        return None
    size = buffer[len(START)]
    if size < MIN_LEN:
        del buffer[:1]
        raise FrameError(f"impossible frame length {size}")
    if len(buffer) < size:
        return None
    frame = bytes(buffer[:size])
    if xor(frame[:-1]) != frame[-1]:
        del buffer[:1]
        raise FrameError(f"checksum mismatch in {frame.hex(' ')}")
    del buffer[:size]
    return frame


@dataclass(frozen=True)
class WklyCodec:
    locks_per_board: int = 24
    family: str = "wkly"
    addresses: range = range(0, 32)

    def open_lock(self, board: int, lock: int) -> Request:
        return Request(RequestKind.OPEN, board, lock, _frame(board, OPEN_ONE, lock))

    def open_locks(self, board: int, locks: set[int]) -> bytes:
        """Several locks at once (the sheet's command 86); the reply carries no lock states."""
        states = dict.fromkeys(locks, True)
        return _frame(board, OPEN_MANY, *map_to_bits(states, self.locks_per_board))

    def read_lock(self, board: int, lock: int) -> Request:
        return Request(RequestKind.STATUS, board, lock, _frame(board, QUERY_ONE, lock))

    def read_board(self, board: int) -> Request:
        return Request(RequestKind.STATUS, board, None, _frame(board, QUERY_ALL))

    def take_reply(self, request: Request | None, buffer: bytearray) -> Reply | None:
        frame = _split(buffer)
        if frame is None:
            return None
        board, cmd, data = frame[5], frame[6], frame[7:-1]
        if cmd == CHANGED and len(data) >= 2:
            return ChangeReport(board, data[0], bool(data[1]))
        if request is None:
            return None
        if board != request.board:
            raise FrameError(f"reply from board {board}, asked board {request.board}")
        if request.kind is RequestKind.OPEN and cmd == OPEN_ONE and len(data) >= 3:
            if data[0] != 0:
                return OpenReply(board, data[1], False)
            return OpenReply(board, data[1], bool(data[2]))
        if request.kind is RequestKind.STATUS and cmd == QUERY_ONE and len(data) >= 2:
            return BoardStatus(board, {data[0]: bool(data[1])})
        if request.kind is RequestKind.STATUS and cmd == QUERY_ALL:
            if len(data) * 8 < self.locks_per_board:
                raise FrameError(f"status reply too short: {frame.hex(' ')}")
            return BoardStatus(board, bits_to_map(data, self.locks_per_board))
        raise FrameError(f"reply {frame.hex(' ')} does not answer {request.frame.hex(' ')}")


@dataclass(frozen=True)
class WklyBoard:
    def take_request(self, buffer: bytearray) -> Request | None:
        frame = _split(buffer)
        if frame is None:
            return None
        board, cmd, data = frame[5], frame[6], frame[7:-1]
        if cmd == OPEN_ONE and data:
            return Request(RequestKind.OPEN, board, data[0], frame)
        if cmd == QUERY_ONE and data:
            return Request(RequestKind.STATUS, board, data[0], frame)
        if cmd == QUERY_ALL:
            return Request(RequestKind.STATUS, board, None, frame)
        raise FrameError(f"unsupported command {cmd:#04x}")

    def open_reply(self, board: int, lock: int, feedback: bool) -> bytes:
        return _frame(board, OPEN_ONE, 0x00, lock, int(feedback))

    def status_reply(
        self, request: Request, status: BoardStatus, lock_count: int, sensor_count: int
    ) -> bytes:
        if request.lock is not None:
            bit = status.locks.get(request.lock, False)
            return _frame(status.board, QUERY_ONE, request.lock, int(bit))
        return _frame(status.board, QUERY_ALL, *map_to_bits(status.locks, lock_count))

    def change_report(self, board: int, lock: int, bit: bool) -> bytes | None:
        return _frame(board, CHANGED, lock, int(bit))
