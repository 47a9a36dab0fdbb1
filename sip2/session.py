"""The SC side of one SIP2 connection as a pure state machine: messages in, bytes out.

``connected → logged in ⇄ awaiting reply``, plus ``closed`` once the connection is lost or the
peer broke the protocol. The caller writes what :meth:`Session.send` returns and feeds what it
reads to :meth:`Session.receive`, which returns events. No sockets, no clock: tests drive it in
memory, and :mod:`sip2.connection` drives it over TCP.

Error detection (spec: "Error Detection"): each request carries ``AY<n>AZ<checksum>`` with n
cycling 0-9. When the ACS answers 96 (it got a corrupted frame) the last frame is written again;
when the ACS's reply fails its checksum we write 97 so that it repeats its reply. Both a bounded
number of times, then the connection is given up with a :class:`ProtocolError`.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from sip2.codec import Decoded, Message, decode, encode
from sip2.errors import EncodeError, Fault, ProtocolError, UnexpectedReply
from sip2.framing import Framer
from sip2.masking import mask_bytes
from sip2.messages import SPECS

log = logging.getLogger(__name__)


class State(enum.Enum):
    CONNECTED = "connected"  # transport open, no login accepted yet
    LOGGED_IN = "logged_in"  # idle: a request may be sent
    AWAITING_REPLY = "awaiting_reply"
    CLOSED = "closed"  # connection lost or broken: open a new one


class Event(enum.Enum):
    SEND_LOGIN = "send_login"
    SEND = "send"
    REPLY = "reply"
    LOGIN_ACCEPTED = "login_accepted"
    LOGIN_REFUSED = "login_refused"
    RESEND = "resend"
    LOST = "connection_lost"  # the transport failed or the peer broke the protocol


# The whole machine; anything not listed is a misuse (ours) or a protocol error (theirs).
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.CONNECTED, Event.SEND_LOGIN): State.AWAITING_REPLY,
    (State.LOGGED_IN, Event.SEND_LOGIN): State.AWAITING_REPLY,
    (State.LOGGED_IN, Event.SEND): State.AWAITING_REPLY,
    (State.AWAITING_REPLY, Event.RESEND): State.AWAITING_REPLY,
    (State.AWAITING_REPLY, Event.REPLY): State.LOGGED_IN,
    (State.AWAITING_REPLY, Event.LOGIN_ACCEPTED): State.LOGGED_IN,
    (State.AWAITING_REPLY, Event.LOGIN_REFUSED): State.CONNECTED,
    **{(state, Event.LOST): State.CLOSED for state in State},
}


@dataclass(frozen=True)
class SessionConfig:
    error_detection: bool = False
    encoding: str = "utf-8"
    max_resends: int = 3  # 96/97 rounds per request before the connection is given up
    login_required: bool = True  # False: the ACS takes requests without a 93 first


@dataclass(frozen=True)
class Reply:
    """The ACS answered the request that was awaiting a reply."""

    decoded: Decoded

    @property
    def message(self) -> Message:
        return self.decoded.message


@dataclass(frozen=True)
class Resend:
    """Write ``data`` now: our last frame again (after a 96) or a 97 asking for the reply again."""

    data: bytes
    reason: str


SessionEvent = Reply | Resend


class Session:
    """One connection's protocol state; one user at a time (the pool sees to it)."""

    def __init__(self, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        self.state = State.CONNECTED if self.config.login_required else State.LOGGED_IN
        self._framer = Framer()
        self._sequence = 0
        self._last_frame: bytes | None = None
        self._awaiting: str | None = None  # reply command id we wait for
        self._resends = 0

    @property
    def awaiting(self) -> str | None:
        """Command id of the reply being waited for, if any."""
        return self._awaiting

    def _move(self, event: Event) -> None:
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise ProtocolError(
                f"cannot {event.value} in state {self.state.value}", fault=Fault.OURS
            ) from None

    def send(self, message: Message) -> bytes:
        """Encode ``message`` as the next request and return the bytes to write.

        Raises :class:`ProtocolError` (fault ours) when the state does not allow sending (not
        logged in, a reply still awaited, closed), and :class:`EncodeError` when the message
        is invalid or no request; either way the state stays as it was.
        """
        spec = SPECS.get(message.command)
        if spec is None or spec.reply is None:
            raise EncodeError(f"{message.command!r} is not a request an SC sends")
        frame = encode(
            message,
            sequence=self._sequence,
            error_detection=self.config.error_detection,
            encoding=self.config.encoding,
        )
        self._move(Event.SEND_LOGIN if message.command == "93" else Event.SEND)
        self._sequence = (self._sequence + 1) % 10
        self._last_frame = frame
        self._awaiting = spec.reply
        self._resends = 0
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sip2 send %s", mask_bytes(frame, self.config.encoding))
        return frame

    def receive(self, data: bytes) -> list[SessionEvent]:
        """Feed bytes read from the ACS; return the events they complete, in order.

        Raises :class:`FrameError` for bytes that are no frame, :class:`UnexpectedReply` for a
        frame that answers nothing we asked, :class:`ProtocolError` when resends run out; each
        of these closes the session (the connection cannot be trusted any more).
        """
        try:
            return [self._frame(frame) for frame in self._framer.feed(data)]
        except ProtocolError:
            self.connection_lost()
            raise

    def _frame(self, frame: bytes) -> SessionEvent:
        config = self.config
        if log.isEnabledFor(logging.DEBUG):
            log.debug("sip2 recv %s", mask_bytes(frame, config.encoding))
        if self.state is not State.AWAITING_REPLY or self._last_frame is None:
            raise UnexpectedReply(f"frame {frame[:2]!r} arrived while no reply was awaited")
        decoded = decode(frame, encoding=config.encoding)
        command = decoded.message.command
        if command == "96":
            return self._resend(self._last_frame, "ACS asked for a resend (96)")
        if config.error_detection and decoded.checksum_valid is False:
            request_resend = encode(Message("97"), error_detection=True)
            return self._resend(request_resend, "reply failed its checksum; sent 97")
        if command != self._awaiting:
            raise UnexpectedReply(f"got {command} while awaiting {self._awaiting}")
        self._awaiting = None
        if command == "94":
            ok = decoded.message.fixed_value("ok") == "1"
            self._move(Event.LOGIN_ACCEPTED if ok else Event.LOGIN_REFUSED)
        else:
            self._move(Event.REPLY)
        return Reply(decoded)

    def _resend(self, data: bytes, reason: str) -> Resend:
        self._resends += 1
        if self._resends > self.config.max_resends:
            raise ProtocolError(f"{reason}, more than {self.config.max_resends} times")
        self._move(Event.RESEND)
        return Resend(data, reason)

    def connection_lost(self) -> None:
        """The transport closed or failed: nothing more can be sent on this session."""
        self._move(Event.LOST)
        self._awaiting = None


__all__ = [
    "TRANSITIONS",
    "Event",
    "Reply",
    "Resend",
    "Session",
    "SessionConfig",
    "SessionEvent",
    "State",
]
