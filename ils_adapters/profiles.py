"""How each ILS answers over SIP2, as data.

The flows never ask "is this Koha?"; they read a profile. When a library's server behaves
differently (a setting such as Koha's ``checked_in_ok``), derive a profile with
``dataclasses.replace(KOHA, repeat_checkin_ok=True)`` rather than adding a branch to code.

Sources: each ILS's SIP server code and documentation; docs/sip2-notes.md and docs/ils/ say
what differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ils_adapters.base import CheckinKind


class CaptureScope(StrEnum):
    """Which location decides whether a check-in captures a hold "here" (SIP2 CV=01)."""

    AP_ELSE_INSTITUTION = "ap_else_institution"  # Koha: hold branch == checkin AP
    AP_ELSE_LOGIN_ORG_UNIT = "ap_else_login_org_unit"  # Evergreen SIPServer: AP shortname
    LOGIN_ORG_UNIT = "login_org_unit"  # Evergreen SIP2Mediator: the login's workstation
    LOGIN_SERVICE_POINT = "login_service_point"  # FOLIO edge-sip2: the login's service point
    NONE = "none"  # no hold capture reported over SIP


class HoldCountMeaning(StrEnum):
    """What the hold count in item information (SIP2 18 CF) means."""

    RECORD_HOLDS = "record_holds"  # Koha: holds on the whole bibliographic record
    CAPTURED_HOLD_FLAG = "captured_hold_flag"  # Evergreen: 1 when a captured hold exists
    NOT_SENT = "not_sent"


# SIP2 2.00 alert type (CV) values, read the same way by every profile that sends them.
_STANDARD_ALERTS: tuple[tuple[str, CheckinKind], ...] = (
    ("01", CheckinKind.HOLD_HERE),  # hold for this location
    ("02", CheckinKind.HOLD_ELSEWHERE),  # hold for another location
    ("03", CheckinKind.TRANSIT),  # ILL / consortial item going home
    ("04", CheckinKind.TRANSIT),  # send to another location
    ("00", CheckinKind.NEEDS_STAFF),  # unknown alert
    ("99", CheckinKind.NEEDS_STAFF),  # other alert
)


@dataclass(frozen=True)
class IlsProfile:
    """One ILS's SIP2 behaviour, as far as the locker flows depend on it."""

    name: str
    capture_scope: CaptureScope
    ap_decides_capture: bool  # sending AP = the bank's branch is enough to capture for it
    # Each locker bank needs its own SIP account: the server checks in at the login's location.
    # False where AP decides, so the banks may share one login (docs/configuration.md).
    sip_login_per_bank: bool
    sends_alert_type: bool  # checkin reply carries CV
    sends_destination: bool  # checkin reply carries CT (hold pickup / transfer destination)
    sends_hold_patron: bool  # checkin reply carries CY (hold patron barcode)
    sends_hold_patron_name: bool  # checkin reply carries DA (personal data: masked)
    destination_is_pickup_location: bool  # CT on a hold names the hold's pickup location
    repeat_checkin_ok: bool  # a second checkin of a returned item answers ok=1
    hold_count_meaning: HoldCountMeaning
    sends_hold_shelf_expiry: bool  # item information carries CM for captured holds
    backdates_checkin: bool  # the checkin return date is used as the return time
    ping_interval_s: float  # send 99 at least this often, or the ACS may drop the session
    # Dates we send: False writes them in the ILS's time zone with a blank zone field (the
    # spec's "local time"; Koha, Evergreen and FOLIO read them so and ignore the zone
    # characters), True in UTC with zone "   Z" for a server that reads the zone.
    dates_in_utc: bool = False
    alert_kinds: tuple[tuple[str, CheckinKind], ...] = _STANDARD_ALERTS
    notes: str = ""

    def kind_for_alert(self, alert: str | None) -> CheckinKind | None:
        """The checkin kind an alert type code means here, or None when absent/unknown."""
        if alert is None or alert == "":
            return None
        for code, kind in self.alert_kinds:
            if code == alert:
                return kind
        return CheckinKind.NEEDS_STAFF


KOHA = IlsProfile(
    name="koha",
    capture_scope=CaptureScope.AP_ELSE_INSTITUTION,
    ap_decides_capture=True,
    sip_login_per_bank=False,
    sends_alert_type=True,
    sends_destination=True,
    sends_hold_patron=True,
    sends_hold_patron_name=True,  # Koha: DA is "First Last (email, phone)" by default
    destination_is_pickup_location=True,
    repeat_checkin_ok=False,  # Koha: ok=0 "not checked out" unless the account has checked_in_ok
    hold_count_meaning=HoldCountMeaning.RECORD_HOLDS,
    sends_hold_shelf_expiry=True,
    backdates_checkin=True,
    ping_interval_s=30.0,  # Koha: idle SIP sessions are dropped (60 s fallback timeout)
    notes="Koha SIPServer; see docs/ils/koha.md for holds_get_captured and checked_in_ok.",
)

EVERGREEN = IlsProfile(
    name="evergreen",
    capture_scope=CaptureScope.AP_ELSE_LOGIN_ORG_UNIT,
    ap_decides_capture=True,  # Evergreen: only when AP is the org unit shortname
    sip_login_per_bank=False,
    sends_alert_type=True,
    sends_destination=True,
    sends_hold_patron=True,
    sends_hold_patron_name=True,
    destination_is_pickup_location=True,
    repeat_checkin_ok=True,
    hold_count_meaning=HoldCountMeaning.CAPTURED_HOLD_FLAG,
    sends_hold_shelf_expiry=True,
    backdates_checkin=True,
    ping_interval_s=30.0,
    notes="Evergreen legacy SIPServer (OpenILS::SIP).",
)

EVERGREEN_MEDIATOR = IlsProfile(
    name="evergreen-mediator",
    capture_scope=CaptureScope.LOGIN_ORG_UNIT,
    ap_decides_capture=False,  # Evergreen SIP2Mediator: the workstation's org unit decides
    sip_login_per_bank=True,
    sends_alert_type=True,
    sends_destination=True,
    sends_hold_patron=True,
    sends_hold_patron_name=True,
    destination_is_pickup_location=True,
    repeat_checkin_ok=True,
    hold_count_meaning=HoldCountMeaning.CAPTURED_HOLD_FLAG,
    sends_hold_shelf_expiry=True,
    backdates_checkin=True,
    ping_interval_s=30.0,
    notes="Evergreen SIP2Mediator: give each bank a SIP account whose workstation is the bank.",
)

FOLIO = IlsProfile(
    name="folio",
    capture_scope=CaptureScope.LOGIN_SERVICE_POINT,
    ap_decides_capture=False,  # FOLIO edge-sip2: the login location maps to a service point
    sip_login_per_bank=True,
    sends_alert_type=True,
    sends_destination=True,
    sends_hold_patron=False,
    sends_hold_patron_name=False,
    destination_is_pickup_location=True,
    repeat_checkin_ok=True,
    hold_count_meaning=HoldCountMeaning.NOT_SENT,
    sends_hold_shelf_expiry=False,
    backdates_checkin=True,
    ping_interval_s=30.0,
    notes="FOLIO edge-sip2; each bank is a service point with its own SC location code.",
)

GENERIC = IlsProfile(
    name="generic",
    capture_scope=CaptureScope.NONE,
    ap_decides_capture=False,
    sip_login_per_bank=True,
    sends_alert_type=False,
    sends_destination=False,
    sends_hold_patron=False,
    sends_hold_patron_name=False,
    destination_is_pickup_location=False,
    repeat_checkin_ok=False,  # assume the strict answer: a repeat is verified with 17
    hold_count_meaning=HoldCountMeaning.NOT_SENT,
    sends_hold_shelf_expiry=False,
    backdates_checkin=False,
    ping_interval_s=30.0,
    notes="Unknown SIP2 server: depend on nothing beyond the standard; staff route holds.",
)

PROFILES: dict[str, IlsProfile] = {
    p.name: p for p in (KOHA, EVERGREEN, EVERGREEN_MEDIATOR, FOLIO, GENERIC)
}


def profile_named(name: str) -> IlsProfile:
    """The built-in profile called ``name``. Raises KeyError listing the known names."""
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown ILS profile {name!r}; known: {', '.join(PROFILES)}") from None
