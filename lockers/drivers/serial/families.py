"""The board families by their configuration name."""

from __future__ import annotations

from dataclasses import dataclass

from lockers.drivers.serial.frames import BoardSide, Codec
from lockers.drivers.serial.kerong import CU16, CU48, KerongBoard, KerongCodec
from lockers.drivers.serial.wkly import WklyBoard, WklyCodec
from lockers.drivers.serial.xor8a import Xor8aBoard, Xor8aCodec

FAMILIES = ("xor8a", "kerong-cu16", "kerong-cu48", "wkly")


@dataclass(frozen=True)
class FamilyOptions:
    locks_per_board: int = 24
    high_first: bool = True  # xor8a: byte order of the all-locks bitmap
    sensors: bool = True  # kerong: the reply carries infrared inputs


def codec_for(family: str, options: FamilyOptions | None = None) -> Codec:
    o = options or FamilyOptions()
    if family == "xor8a":
        return Xor8aCodec(locks_per_board=o.locks_per_board, high_first=o.high_first)
    if family == "kerong-cu16":
        return KerongCodec(CU16, sensors=o.sensors)
    if family == "kerong-cu48":
        return KerongCodec(CU48, sensors=o.sensors)
    if family == "wkly":
        return WklyCodec(locks_per_board=o.locks_per_board)
    raise ValueError(f"unknown board family {family!r}; known: {', '.join(FAMILIES)}")


def board_side_for(family: str, options: FamilyOptions | None = None) -> BoardSide:
    o = options or FamilyOptions()
    if family == "xor8a":
        return Xor8aBoard(high_first=o.high_first)
    if family == "kerong-cu16":
        return KerongBoard(CU16)
    if family == "kerong-cu48":
        return KerongBoard(CU48)
    if family == "wkly":
        return WklyBoard()
    raise ValueError(f"unknown board family {family!r}; known: {', '.join(FAMILIES)}")


def default_baud(family: str) -> int:
    """The speed the family's protocol sheet gives (boards can often be set otherwise)."""
    return 19200 if family.startswith("kerong") else 9600


def lock_count(family: str, options: FamilyOptions | None = None) -> int:
    """Locks per board: fixed by the Kerong models, a setting for the others."""
    if family == "kerong-cu16":
        return CU16.locks
    if family == "kerong-cu48":
        return CU48.locks
    return (options or FamilyOptions()).locks_per_board
