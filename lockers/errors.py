"""One exception tree for the locker domain, typed by what the caller should do."""

from __future__ import annotations

from datetime import datetime


class LockerError(Exception):
    """Base of every error raised by ``lockers``."""


class IllegalTransition(LockerError):
    """A state change the table does not allow: a bug in the caller or a stale read; do not retry.

    ``machine`` names the state machine ("compartment" or "deposit").
    """

    def __init__(self, machine: str, from_state: str, to_state: str) -> None:
        super().__init__(f"illegal {machine} transition {from_state} -> {to_state}")
        self.machine = machine
        self.from_state = from_state
        self.to_state = to_state


class UnknownCompartment(LockerError):
    """The bank has no compartment with this number: a configuration or caller error."""


class AccessDenied(LockerError):
    """The presented code, QR token or card opens nothing (wrong, used, expired or revoked).

    The message is safe to show to a patron: it never says which of those it was.
    """


class LockedOut(AccessDenied):
    """Too many failures: refuse without checking anything until ``until`` (docs/access.md, Guessing
    limits)."""

    def __init__(self, subject_kind: str, until: datetime) -> None:
        super().__init__(f"too many failed attempts; try again after {until.isoformat()}")
        self.subject_kind = subject_kind
        self.until = until


class CodeSpaceExhausted(LockerError):
    """No unique typed code could be drawn: the bank has too many live codes for the code length."""


class SignatureError(LockerError):
    """A signed hardware message was rejected; drop it and keep the log line for staff."""


class MalformedMessage(SignatureError):
    """The message lacks signing fields or is not the expected JSON."""


class ForgedMessage(SignatureError):
    """The HMAC does not match: wrong key, tampered body, or unknown bank."""


class StaleMessage(SignatureError):
    """The timestamp is outside the accepted window."""


class ReplayedMessage(SignatureError):
    """The nonce was already seen within the window."""


class DriverError(LockerError):
    """A hardware command did not do what was asked."""


class ControllerOffline(DriverError):
    """The controller did not answer: retry later or use another bank; nothing was opened."""


class DoorDidNotOpen(DriverError):
    """The controller answered but the door stayed shut (jammed lock, power, mechanics)."""

    def __init__(self, compartment: int, detail: str = "") -> None:
        super().__init__(f"door {compartment} did not open" + (f": {detail}" if detail else ""))
        self.compartment = compartment
        self.detail = detail
