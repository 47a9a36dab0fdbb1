"""``lockerbridge check-config``'s catalogue part: reach every ILS with every bank's SIP login.

Per SIP login (once for the banks that share one): the login (93), the status request (99)
and what its flags say, and, where the ILS has a ``test_item``, an item information request
(17) for it. Failures that stop circulation
(no answer, a refused login, a missing test item) are problems; status flags saying N are
warnings, because real servers send them for policy reasons while circulating.

It also prints the session budget of each ILS: how many SIP2 sessions the configured
processes may hold open at once, which is what the SIP server must be provisioned for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bridge.config import BankSettings, IlsSettings, Settings
from bridge.infra.ils_connection import server_config, sip_account
from ils_adapters.profiles import profile_named
from ils_adapters.sip2_adapter import Sip2Adapter, status_warnings
from sip2 import errors as sip
from sip2.client import SipClient
from sip2.config import SipAccount
from sip2.results import CirculationStatus

Say = Callable[[str], None]


@dataclass
class Findings:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def session_budget(ils: IlsSettings, processes: int) -> str:
    """One line: how many sessions the SIP server must allow for ``ils``."""
    total = ils.max_connections * processes
    idle = (
        "kept open (heartbeat)"
        if ils.idle_close_seconds is None
        else f"closed after {ils.idle_close_seconds:g} s idle"
    )
    return (
        f"ILS {ils.name}: up to {total} SIP2 session(s) at once = max_connections "
        f"{ils.max_connections} x {processes} process(es), shared by the banks' logins; "
        f"idle sessions {idle}"
    )


def check_login(ils: IlsSettings, banks: list[BankSettings], say: Say) -> Findings:
    """Login, 99 and the test item for the SIP login of ``banks`` (one, or those sharing it);
    prints one line per step."""
    found = Findings()
    server = replace(server_config(ils), heartbeat_interval=None, idle_close=0.0)
    account = sip_account(banks[0], ils)
    where = f"{ils.host}:{ils.port}"
    label = f"{_banks(banks)} ({account.user!r} on ILS {ils.name})"
    with SipClient.for_server(server, account, max_connections=1) as client:
        try:
            client.login()
            say(f"  {label}: login accepted")
            status = client.sc_status()
        except sip.LoginRefused:
            found.problems.append(
                f"{label}: {where} refused the SIP login: check sip_login user and password "
                f"(and the account's location) for {'this bank' if len(banks) == 1 else 'them'}"
            )
            return found
        except (sip.IlsUnavailable, sip.OutcomeUnknown) as exc:
            found.problems.append(f"{label}: no answer from {where}: {exc}")
            return found
        except sip.ProtocolError as exc:
            found.problems.append(f"{label}: {where} does not answer in SIP2 we can read: {exc}")
            return found
        flags = (
            f"online {_yn(status.online)}, checkin ok {_yn(status.checkin_ok)}, "
            f"checkout ok {_yn(status.checkout_ok)}, protocol {status.protocol_version or '?'}"
        )
        say(f"  {label}: status (99) answered: {flags}")
        for warning in status_warnings(status):
            found.warnings.append(f"{label}: {warning}")
        if ils.test_item and _check_test_item(client, ils.test_item, label, say, found):
            adapter = Sip2Adapter(client, profile_named(ils.profile))
            for contradiction in adapter.test_item_problems(ils.test_item):
                found.warnings.append(f"{label}: {ils.profile} profile: {contradiction}")
    return found


def _check_test_item(client: SipClient, item: str, label: str, say: Say, found: Findings) -> bool:
    """True when the test item was found."""
    try:
        info = client.item_information(item)
    except sip.SipError as exc:
        found.problems.append(f"{label}: item information (17) on test item {item} failed: {exc}")
        return False
    unknown = info.circulation_status in (CirculationStatus.OTHER, CirculationStatus.UNKNOWN)
    if unknown and not info.title:
        found.problems.append(
            f"{label}: test item {item} is not in the catalogue (check [[ils]] test_item)"
        )
        return False
    say(
        f"  {label}: test item {item} found: {info.circulation_status.name.lower()}, "
        f"hold count (CF) {info.hold_queue_length if info.hold_queue_length is not None else '-'}"
    )
    return True


def check_all(settings: Settings, say: Say, *, processes: int) -> Findings:
    """Every ILS that serves a bank, with every bank's login; then the session budgets."""
    found = Findings()
    for ils in settings.ils:
        banks = [b for b in settings.banks if b.ils == ils.name]
        if not banks:
            continue
        say(f"ILS {ils.name} at {ils.host}:{ils.port} (profile {ils.profile}, zone {ils.zone()}):")
        # Banks on one login (the ILS's shared one) are one check: the server sees them alike.
        sharing: dict[SipAccount, list[BankSettings]] = {}
        for bank in banks:
            sharing.setdefault(sip_account(bank, ils), []).append(bank)
        for same_login in sharing.values():
            one = check_login(ils, same_login, say)
            found.problems += one.problems
            found.warnings += one.warnings
    for ils in settings.ils:
        say(session_budget(ils, processes))
    return found


def _banks(banks: list[BankSettings]) -> str:
    if len(banks) == 1:
        return f"bank {banks[0].id}"
    if len(banks) <= 3:
        return "banks " + ", ".join(b.id for b in banks)
    return f"banks {banks[0].id}, {banks[1].id} and {len(banks) - 2} more"


def _yn(flag: bool | None) -> str:
    return "?" if flag is None else ("Y" if flag else "N")
