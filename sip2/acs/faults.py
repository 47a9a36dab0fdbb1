"""Faults the reference ACS can be told to show, switchable while it runs.

Each one imitates something real ACSs do: slow answers, connections that die, replies lost
after the action was performed, refused logins, an ILS that goes down and comes back, Koha's
idle-connection timeout, bad checksums and CR LF framing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Faults:
    """Settable at runtime from any thread; the server reads them on every message.

    - ``latency``: seconds to wait before each reply.
    - ``drop_connection_after``: close a connection once it has answered this many messages.
    - ``drop_replies``: for the next N state-changing requests (09, 11, 29, 15) perform the action,
      then close the connection instead of replying (a reply lost in transit: outcome unknown).
    - ``refuse_logins``: every 93 gets 94 ok=0.
    - ``down``: True closes the listener and every connection; False listens again on the
      same port (also :meth:`ReferenceACS.go_down` / :meth:`ReferenceACS.come_back`).
    - ``idle_timeout``: close a connection silent for this many seconds (Koha's SIP server does).
    - ``corrupt_checksums``: replies that carry AZ get a wrong checksum.
    - ``line_ending``: ``"\\r"`` (the spec) or ``"\\r\\n"`` (some ACSs) after each reply.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency: float = 0.0
        self.drop_connection_after: int | None = None
        self._drop_replies = 0
        self.refuse_logins = False
        self.idle_timeout: float | None = None
        self.corrupt_checksums = False
        self.line_ending = "\r"
        self._down = False
        self._on_down: Callable[[bool], None] | None = None

    @property
    def drop_replies(self) -> int:
        with self._lock:
            return self._drop_replies

    @drop_replies.setter
    def drop_replies(self, count: int) -> None:
        with self._lock:
            self._drop_replies = max(0, count)

    def take_dropped_reply(self) -> bool:
        """Use up one dropped reply; True when this reply must be lost."""
        with self._lock:
            if self._drop_replies <= 0:
                return False
            self._drop_replies -= 1
            return True

    @property
    def down(self) -> bool:
        return self._down

    @down.setter
    def down(self, value: bool) -> None:
        self._down = value
        if self._on_down is not None:
            self._on_down(value)

    def clear(self) -> None:
        """Back to a healthy server (comes back up if it was down)."""
        self.latency = 0.0
        self.drop_connection_after = None
        self.drop_replies = 0
        self.refuse_logins = False
        self.idle_timeout = None
        self.corrupt_checksums = False
        self.line_ending = "\r"
        if self._down:
            self.down = False
