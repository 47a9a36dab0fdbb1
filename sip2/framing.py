"""Bytes in, complete frames out: so two frames arriving in one read never merge.

SIP2 frames end in CR. Some ACSs send CR LF, or a stray LF before the next frame; the LF is
dropped wherever it sits between frames. No I/O here: the transport feeds what it read.
"""

from __future__ import annotations

from sip2.errors import FrameTooLong

DEFAULT_MAX_FRAME = 64 * 1024  # far above any real SIP2 frame; bounds memory on garbage


class Framer:
    """Split a byte stream into frames (without their CR/LF)."""

    def __init__(self, max_frame: int = DEFAULT_MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    @property
    def buffered(self) -> int:
        """Bytes received that do not yet form a complete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return every frame it completes, in order.

        Empty frames (a lone CR or LF) are skipped. Raises :class:`FrameTooLong` when more than
        ``max_frame`` bytes arrive without a CR; the buffer is cleared so the caller can close.
        """
        self._buffer += data
        frames: list[bytes] = []
        while True:
            end = self._buffer.find(b"\r")
            if end < 0:
                break
            frame = bytes(self._buffer[:end]).strip(b"\n")
            del self._buffer[: end + 1]
            if frame:
                frames.append(frame)
        if self._buffer.lstrip(b"\n") == b"":
            self._buffer.clear()
        if len(self._buffer) > self._max_frame:
            self._buffer.clear()
            raise FrameTooLong(f"more than {self._max_frame} bytes without a CR")
        return frames
