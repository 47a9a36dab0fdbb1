"""JSON bodies of hardware messages (events, commands, acknowledgements), shared by the MQTT
and HTTP drivers. See docs/drivers.md for the format."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lockers.drivers.base import (
    CardRead,
    CompartmentReading,
    DoorClosed,
    DoorOpened,
    DoorState,
    DriverEvent,
    Fault,
    OccupancyChanged,
)
from lockers.errors import ForgedMessage, MalformedMessage
from lockers.signing import Verifier


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime:
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("timestamp without a time zone")
    return parsed


def event_to_json(event: DriverEvent) -> dict[str, Any]:
    match event:
        case DoorOpened(compartment=c, at=at):
            return {"type": "door_opened", "compartment": c, "at": _time(at)}
        case DoorClosed(compartment=c, at=at):
            return {"type": "door_closed", "compartment": c, "at": _time(at)}
        case OccupancyChanged(compartment=c, occupied=o, at=at):
            return {"type": "occupancy", "compartment": c, "occupied": o, "at": _time(at)}
        case Fault(compartment=c, code=code, detail=detail, at=at):
            return {
                "type": "fault",
                "compartment": c,
                "code": code,
                "detail": detail,
                "at": _time(at),
            }
        case CardRead(reader=reader, credential=cred, at=at):
            return {"type": "card_read", "reader": reader, "credential": cred, "at": _time(at)}
    raise TypeError(f"not a driver event: {event!r}")


def event_from_json(bank_id: str, data: Mapping[str, Any]) -> DriverEvent:
    """Raises ``MalformedMessage`` for unknown types or missing fields."""
    try:
        kind = data["type"]
        at = _parse_time(data["at"])
        if kind == "door_opened":
            return DoorOpened(bank_id, int(data["compartment"]), at)
        if kind == "door_closed":
            return DoorClosed(bank_id, int(data["compartment"]), at)
        if kind == "occupancy":
            return OccupancyChanged(bank_id, int(data["compartment"]), bool(data["occupied"]), at)
        if kind == "fault":
            number = data.get("compartment")
            return Fault(
                bank_id,
                None if number is None else int(number),
                str(data["code"]),
                str(data.get("detail", "")),
                at,
            )
        if kind == "card_read":
            return CardRead(bank_id, str(data["reader"]), str(data["credential"]), at)
    except (KeyError, ValueError, TypeError) as exc:
        raise MalformedMessage(f"bad event: {exc}") from exc
    raise MalformedMessage(f"unknown event type {kind!r}")


def encode_events(events: list[DriverEvent]) -> bytes:
    return json.dumps({"events": [event_to_json(e) for e in events]}).encode("utf-8")


def decode_events(bank_id: str, body: bytes) -> list[DriverEvent]:
    try:
        data = json.loads(body)
        raw = data["events"]
        if not isinstance(raw, list):
            raise TypeError("events is not a list")
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedMessage(f"bad events body: {exc}") from exc
    return [event_from_json(bank_id, item) for item in raw]


@dataclass(frozen=True)
class Command:
    """``cmd/open`` or ``cmd/read`` for one compartment; ``cmd_id`` pairs it with its ack."""

    cmd_id: str
    compartment: int

    def encode(self) -> bytes:
        return json.dumps({"cmd_id": self.cmd_id, "compartment": self.compartment}).encode()

    @classmethod
    def decode(cls, body: bytes) -> Command:
        try:
            data = json.loads(body)
            return cls(str(data["cmd_id"]), int(data["compartment"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"bad command: {exc}") from exc


@dataclass(frozen=True)
class Ack:
    """The controller's answer. ``error``: None, "jammed", "unknown_compartment", or a vendor
    code; ``door``/``occupied`` report the state after the command."""

    cmd_id: str
    compartment: int
    error: str | None
    door: DoorState | None = None
    occupied: bool | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "cmd_id": self.cmd_id,
                "compartment": self.compartment,
                "ok": self.error is None,
                "error": self.error,
                "door": self.door.value if self.door else None,
                "occupied": self.occupied,
            }
        ).encode()

    @classmethod
    def decode(cls, body: bytes) -> Ack:
        try:
            data = json.loads(body)
            door = data.get("door")
            occupied = data.get("occupied")
            return cls(
                cmd_id=str(data["cmd_id"]),
                compartment=int(data["compartment"]),
                error=None if data.get("ok") else str(data.get("error") or "failed"),
                door=DoorState(door) if door else None,
                occupied=None if occupied is None else bool(occupied),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedMessage(f"bad ack: {exc}") from exc

    def reading(self) -> CompartmentReading:
        if self.door is None:
            raise MalformedMessage("ack carries no door state")
        return CompartmentReading(self.compartment, self.door, self.occupied)


# The channel a controller signs its events on (webhook body, MQTT event topic).
EVT = "evt"


def verify_webhook(
    headers: Mapping[str, str], body: bytes, *, verifier: Verifier, bank_id: str | None = None
) -> list[DriverEvent]:
    """The events of an authentic webhook call, in order.

    Raises ``ForgedMessage``/``StaleMessage``/``ReplayedMessage``/``MalformedMessage`` (all
    ``SignatureError``): answer 401 and keep nothing. ``bank_id``: only accept that bank.
    """
    message = verifier.verify_headers(headers, body, EVT)
    if bank_id is not None and message.bank_id != bank_id:
        raise ForgedMessage(f"webhook of bank {message.bank_id!r} sent for {bank_id!r}")
    return decode_events(message.bank_id, message.body)
