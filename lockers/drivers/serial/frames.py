"""What every board family's codec has in common: requests, replies, checksums, errors.

A codec is sans-I/O: it turns "open lock 3 of board 1" into bytes and bytes back into what the
board said. Nothing here touches a port or a clock; ``transport`` and ``poller`` do that.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol


class FrameError(ValueError):
    """Bytes that are not a valid frame of the family (bad checksum, wrong length...)."""


class RequestKind(enum.StrEnum):
    OPEN = "open"
    STATUS = "status"  # every lock (and sensor) of one board


@dataclass(frozen=True)
class Request:
    kind: RequestKind
    board: int
    lock: int | None  # None for a whole-board status read
    frame: bytes


@dataclass(frozen=True)
class BoardStatus:
    """Raw input bits of one board, keyed by lock / sensor number (1-based).

    True means the bit is set; what a set bit means (door open? compartment full?) depends on
    how the board is wired, which is the driver's polarity setting, not the codec's business.
    """

    board: int
    locks: dict[int, bool]
    sensors: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenReply:
    """A board's answer to an open command; ``feedback`` is the lock's input bit after the
    command when the family reports it, else None (confirm with a status read)."""

    board: int
    lock: int
    feedback: bool | None


@dataclass(frozen=True)
class ChangeReport:
    """A board-initiated report that one door's input changed (families that push)."""

    board: int
    lock: int
    bit: bool


Reply = BoardStatus | OpenReply | ChangeReport


class Codec(Protocol):
    """The controlling side of one board family (what the driver sends and understands)."""

    @property
    def family(self) -> str: ...

    @property
    def addresses(self) -> range:
        """Board addresses a probe tries, as the documents allow them."""
        ...

    def open_lock(self, board: int, lock: int) -> Request: ...

    def read_board(self, board: int) -> Request: ...

    def take_reply(self, request: Request | None, buffer: bytearray) -> Reply | None:
        """Consume one reply (to ``request``) or a pushed report from the front of ``buffer``.

        Returns None while the frame is incomplete. Bytes that cannot start a frame are
        dropped. A complete frame with a bad checksum is consumed and raises ``FrameError``.
        """
        ...


class BoardSide(Protocol):
    """The board's side of a family (the emulator and the tests use it)."""

    def take_request(self, buffer: bytearray) -> Request | None:
        """Consume one request from ``buffer``; None while incomplete; ``FrameError`` on a
        complete but invalid frame (consumed)."""
        ...

    def open_reply(self, board: int, lock: int, feedback: bool) -> bytes: ...

    def status_reply(
        self, request: Request, status: BoardStatus, lock_count: int, sensor_count: int
    ) -> bytes:
        """The answer to a status ``request`` (whole board, or one lock where supported)."""
        ...

    def change_report(self, board: int, lock: int, bit: bool) -> bytes | None:
        """The pushed report of a changed input, or None when the family never pushes."""
        ...


def xor(data: bytes) -> int:
    out = 0
    for byte in data:
        out ^= byte
    return out


def sum8(data: bytes) -> int:
    return sum(data) & 0xFF


def bits_to_map(data: bytes, count: int, *, lsb_first_byte: bool = True) -> dict[int, bool]:
    """Bit ``i`` (lock i+1) from a bitmap; byte 0 holds locks 1-8 unless ``lsb_first_byte`` is
    False (then the last byte holds locks 1-8). Within a byte the lowest bit is the lowest lock."""
    ordered = data if lsb_first_byte else bytes(reversed(data))
    return {n + 1: bool(ordered[n // 8] >> (n % 8) & 1) for n in range(count)}


def map_to_bits(states: dict[int, bool], count: int, *, lsb_first_byte: bool = True) -> bytes:
    out = bytearray((count + 7) // 8)
    for n in range(count):
        if states.get(n + 1, False):
            out[n // 8] |= 1 << (n % 8)
    return bytes(out) if lsb_first_byte else bytes(reversed(out))


def drop_until(buffer: bytearray, starts: bytes) -> None:
    """Drops leading bytes until one of ``starts`` (noise, the tail of a broken frame)."""
    i = 0
    while i < len(buffer) and buffer[i] not in starts:
        i += 1
    del buffer[:i]
