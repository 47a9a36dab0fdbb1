"""One exception tree for SIP2, typed by what the caller should do next.

- :class:`IlsUnavailable`: nothing happened at the ILS; retry later.
- :class:`LoginRefused`: the ILS is up but refuses our SIP account; retry later *and* tell staff.
- :class:`OutcomeUnknown`: a state-changing request was sent and its reply never came; verify
  (e.g. with 17 item information) before retrying.
- :class:`ProtocolError`: a frame could not be understood or built; ``fault`` says whose fault.

Socket, ssl and codec errors are translated into these at the boundary (``raise ... from exc``),
so callers never catch ``OSError`` themselves.
"""

from __future__ import annotations

import enum


class SipError(Exception):
    """Base class of every error raised by :mod:`sip2`."""


class IlsUnavailable(SipError):
    """The ILS could not be reached or dropped us before a request was sent: retry later."""


class LoginRefused(IlsUnavailable):
    """The ACS answered 94 with ok=0: the SIP account, password or location is wrong.

    A subclass of :class:`IlsUnavailable` because work must wait (nothing was done), but staff
    must fix the configuration: retrying alone will not help.
    """


class OutcomeUnknown(SipError):
    """A request was sent but no reply came (timeout, EOF, reset): it may or may not have happened.

    ``command`` is the two-digit id of the request whose outcome is unknown.
    """

    def __init__(self, message: str, *, command: str) -> None:
        super().__init__(message)
        self.command = command


class Fault(enum.Enum):
    """Whose fault a protocol error is (the h11 distinction)."""

    PEER = "peer"  # the ACS sent something we cannot understand
    OURS = "ours"  # we were asked to build or send something invalid


class ProtocolError(SipError):
    """A SIP2 frame could not be understood (``fault=PEER``) or built (``fault=OURS``)."""

    fault: Fault = Fault.PEER

    def __init__(self, message: str, *, fault: Fault | None = None) -> None:
        super().__init__(message)
        if fault is not None:
            self.fault = fault


class FrameError(ProtocolError):
    """The peer sent bytes that are not a SIP2 frame we can decode (garbage, truncated)."""

    fault = Fault.PEER


class FrameTooLong(FrameError):
    """The peer sent more bytes than a frame may hold without a terminating CR."""


class UnknownCommand(FrameError):
    """The frame's command id is not one SIP2 defines; ``command`` holds what was read."""

    def __init__(self, command: str) -> None:
        super().__init__(f"unknown SIP2 command id {command!r}")
        self.command = command


class EncodeError(ProtocolError):
    """We were asked to encode an invalid message (missing fixed field, ``|`` in a value ...)."""

    fault = Fault.OURS


class UnexpectedReply(ProtocolError):
    """The ACS answered with a message id that does not answer our request."""

    fault = Fault.PEER
