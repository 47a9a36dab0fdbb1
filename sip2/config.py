"""Where an ACS is and who we are to it: plain frozen values, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo

from sip2.transport import DEFAULT_CONNECT_TIMEOUT, TlsConfig

ENCODINGS = ("utf-8", "cp1252", "ascii", "cp850", "latin-1")


@dataclass(frozen=True)
class ServerConfig:
    """One ACS (one ILS's SIP2 port). Timeouts are always on.

    ``server_tz`` is the ACS's local zone: SIP2 dates with a blank zone are read in it, and
    dates we send are written in it with a blank zone (Koha and Evergreen ignore the zone
    characters). ``dates_in_utc`` sends them in UTC with zone ``   Z`` instead, for a server
    that reads the zone. None: dates are sent in UTC with zone ``   Z`` and blank-zone dates
    are read as UTC.
    """

    host: str
    port: int
    tls: TlsConfig | None = None
    encoding: str = "utf-8"
    error_detection: bool = False
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    request_timeout: float = 10.0
    heartbeat_interval: float | None = 30.0  # Koha drops idle connections; None: no heartbeat
    # Close a connection after this many seconds without a request (heartbeats do not count),
    # so a small server's sessions go back to other processes; 0: close after each request;
    # None: keep connections open.
    idle_close: float | None = None
    max_resends: int = 3
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    server_tz: tzinfo | None = None
    dates_in_utc: bool = False

    @property
    def send_tz(self) -> tzinfo | None:
        """The zone dates we send are written in (None: UTC with zone ``   Z``)."""
        return None if self.dates_in_utc else self.server_tz

    def __post_init__(self) -> None:
        "".encode(self.encoding)  # LookupError now rather than on the first frame
        if self.connect_timeout <= 0 or self.request_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if self.idle_close is not None and self.idle_close < 0:
            raise ValueError("idle_close must not be negative")


@dataclass(frozen=True)
class SipAccount:
    """A SIP2 login (93): one per locker bank, so the ILS sees each bank as its own terminal.

    ``location`` goes in 93's CP; ``institution`` in every request's AO. ``login=False`` is for
    an ACS that takes requests without a 93 (some stunnel'd test servers).
    """

    user: str
    password: str = field(repr=False)
    location: str = ""
    institution: str = ""
    terminal_password: str = field(default="", repr=False)  # AC
    login: bool = True
