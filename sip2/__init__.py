"""SIP2 for Lockerbridge: a lenient codec, a sans-I/O client session and a blocking client.

Start at :class:`SipClient` (``SipClient.for_server(ServerConfig(...), SipAccount(...))`` or
one :class:`SipPool` per ILS shared by a client per locker bank). The wire format lives in
:mod:`sip2.codec`, the message table in :mod:`sip2.messages`, the reference ACS in
:mod:`sip2.acs`.
"""

from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.errors import (
    Fault,
    IlsUnavailable,
    LoginRefused,
    OutcomeUnknown,
    ProtocolError,
    SipError,
)
from sip2.pool import SipPool
from sip2.results import (
    AcsStatus,
    AlertType,
    CheckinResult,
    CheckoutResult,
    CirculationStatus,
    EndSessionResult,
    ItemInformation,
    LoginResult,
    PatronFlag,
    PatronInformation,
    PatronStatus,
    RenewResult,
    Summary,
)
from sip2.transport import TlsConfig

__all__ = [
    "AcsStatus",
    "AlertType",
    "CheckinResult",
    "CheckoutResult",
    "CirculationStatus",
    "EndSessionResult",
    "Fault",
    "IlsUnavailable",
    "ItemInformation",
    "LoginRefused",
    "LoginResult",
    "OutcomeUnknown",
    "PatronFlag",
    "PatronInformation",
    "PatronStatus",
    "ProtocolError",
    "RenewResult",
    "ServerConfig",
    "SipAccount",
    "SipClient",
    "SipError",
    "SipPool",
    "Summary",
    "TlsConfig",
]
