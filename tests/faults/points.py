"""The crash-point suite: for every commit point of a flow, kill the process that reaches it.

One installation per database, shared by every point: a private redis-server, the reference
SIP2 server (Koha behaviour, in this process so its ledger can be read), a simulated bank behind
a real HTTP controller (``tests.topology.controllers``), gunicorn (one process, so the webhook
and the kiosk route are always the same process), one ``lockerbridge worker`` and a
``lockerbridge scheduler``. Every process runs with ``LOCKERBRIDGE_CRASH_CONTROL``
(``bridge.infra.crashpoints``): to kill at a point, the suite arms its label; the first process that
commits under that label ends with ``os._exit`` right after the commit. gunicorn's master forks
a new web process; the suite's supervisor restarts a dead worker or scheduler.

Each point then drives one flow through its real entry points (the kiosk API route, the
controller's signed webhook as the patron shuts the door), lets the system settle, and checks
invariants against the database, the ACS's ledger and the simulated controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import requests
from sqlalchemy import func, select

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import AuditEventRow, CompartmentRow, OutboxRow
from bridge.storage.tables.lockers import AccessGrantRow, LoadRow
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.returns import DepositRow
from lockers.drivers.mqtt import MqttDevice, MqttSettings
from lockers.drivers.simulated import SimTiming, SimulatedBank
from lockers.signing import Signer, Verifier
from sip2.acs.catalogue_file import catalogue_from_dict
from sip2.acs.server import ReferenceACS
from tests import sandbox
from tests.support.servers import Mailbox
from tests.topology.controllers import BankController
from tests.topology.procs import BIN, Procs, free_port, gunicorn_argv, toml, wait_until

T = TypeVar("T")

BANK = "main-lobby"
KEY = b"crash-point-controller-key-0123456789"
MQTT_BANK = "east-lobby"  # the same doors behind an MQTT controller (Mosquitto at 1883)
MQTT_KEY = b"crash-point-mqtt-key-0123456789abcdef"
KIOSK_TOKEN = "kiosk-token-0123456789abcdefgh"
STAFF_TOKEN = "scanner-token-0123456789abcdef"
BORROWER = "23000000000777"
RETURN_DOORS = range(1, 41)
PICKUP_DOORS = range(41, 61)
EQUIPMENT_DOORS = range(61, 65)
DAYUSE_DOORS = range(65, 69)
ALL_DOORS = range(1, DAYUSE_DOORS.stop)
CATEGORY = "laptop"
ILL_PARTNER = "RESHARE"
ILL_SECRET = "crash-point-partner-secret-0123456789"
ILS_NCIP_SECRET = "crash-point-ils-ncip-secret-0123456789"

# The commit points of a return, in the order they happen, and the process that reaches each.
RETURN_POINTS = (
    ("return_doors.open_return_door", "web: the scan reserves a return door"),
    ("doors.opening._record_opened", "web: the controller confirmed the door open"),
    ("doors.events._door_opened", "web (webhook): door opened event"),
    ("doors.events._occupancy", "web (webhook): occupancy event"),
    ("doors.events.door_closed", "web (webhook): door closed: deposit recorded"),
    ("returns.checkin.check_in_deposit", "worker: check-in claimed, checkin_sent set"),
    ("returns.checkin._finish", "worker: check-in result stored"),
)


# The commit points of loading a hold: the staff scan (route), the door events (webhook), the
# message to the patron (worker).
LOADING_POINTS = (
    ("loading.scan_item", "web: the scan's local checks"),
    ("loading._load", "web: hold checked in, door reserved"),
    ("doors.opening._record_opened", "web: the controller confirmed the door open"),
    ("doors.events._door_opened", "web (webhook): door opened event"),
    ("doors.events._occupancy", "web (webhook): occupancy event"),
    ("doors.events.door_closed", "web (webhook): loaded, code issued, message queued"),
    ("notify.delivery._deliver", "worker: message claimed"),
    ("notify.delivery._settle", "worker: message done"),
)


# The commit points of a pickup by typed code (kiosk route), then the door's events (webhook).
PICKUP_POINTS = (
    ("access.verification.verify_secret", "web: code looked up (limits held in Redis)"),
    ("pickup.hand_over:1", "web: the patron's items read"),
    ("pickup.hand_over:2", "web: doors out of order read"),
    ("pickup.hand_over:3", "web: items lent, doors picked_up, code used"),
    ("doors.opening._record_opened", "web: the controller confirmed the door open"),
    ("doors.events._door_opened", "web (webhook): door opened event"),
    ("doors.events._occupancy", "web (webhook): occupancy event"),
    ("doors.events.door_closed", "web (webhook): door closed empty: freed"),
)


# Card + PIN, QR and phone link share the code's hand_over; each way's own points, and a kill
# after the handover's commit for each.
_HANDED_OVER = ("pickup.hand_over:3", "web: items lent, doors picked_up, code used")
_OPENED = ("doors.opening._record_opened", "web: the controller confirmed the door open")
CARD_POINTS = (_HANDED_OVER,)  # the card is checked with the ILS: no commit of its own
QR_POINTS = (("access.verification.verify_secret", "web: QR token looked up"), _HANDED_OVER)
PHONE_POINTS = (
    ("access.phone.view", "web: the link's page shown"),
    ("access.phone.open_from_phone:1", "web: the link looked up"),
    ("access.phone.open_from_phone:2", "web: kiosk number right, presence audited"),
    _HANDED_OVER,
    _OPENED,
    ("access.phone.open_from_phone:3", "web: door open, link spent"),
)

# Borrowing a laptop at the kiosk (card + PIN), then the door's events.
EQUIPMENT_POINTS = (
    ("equipment.borrow_equipment", "web: card checked (no commit); a laptop found"),
    ("equipment._lent", "web: lent at the ILS, loan recorded; door not opened"),
    _OPENED,
    ("doors.events._door_opened", "web (webhook): door opened event"),
    ("doors.events.door_closed", "web (webhook): door closed empty: freed"),
)

# Reserving a day-use door at the kiosk page and leaving a bag in it; then finishing.
DAYUSE_POINTS = (
    ("dayuse._verify", "web: card checked with the ILS"),
    ("dayuse.set_aside", "web: day-use doors held out of service"),
    ("dayuse._reserve_and_open", "web: reservation stored; door not opened"),
    _OPENED,
    ("doors.events.door_closed", "web (webhook): door closed on the bag"),
)
DAYUSE_FINISH_POINTS = (
    ("dayuse.finish", "web: reservation ended; door not opened"),
    _OPENED,
    ("doors.events.door_closed", "web (webhook): door closed, emptied"),
)
# The same from the phone page (card + PIN and the number on the kiosk's screen): the web
# process's commits, whose answer to the phone is lost; the door's events are the kiosk's.
DAYUSE_PHONE_POINTS = DAYUSE_POINTS[:-1]
DAYUSE_PHONE_FINISH_POINTS = DAYUSE_FINISH_POINTS[:-1]


# An inter-library loan: AcceptItem over NCIP (HTTP to /ncip, passed on to the ILS's NCIP
# responder), then loaded, picked up and returned as a hold; the return's check-in tells the
# lending library with CheckInItem (worker).
ILL_POINTS = (
    ("ill.accepting.accept_item", "web (/ncip): loan stored; AcceptItem not yet passed on"),
    ("ill.accepting._forward", "web (/ncip): the ILS created the item; loan accepted, door held back"),
    ("returns.checkin._finish", "worker: checked in, loan returned, CheckInItem queued"),
    ("ill.notices.tell_partner:1", "worker: loan read; CheckInItem not yet sent"),
    ("ill.notices.tell_partner:2", "worker: CheckInItem answered; loan closed"),
)


@contextlib.contextmanager
def _timed(
    outcome: Outcome, outcomes: list[Outcome], report: Callable[[Outcome], None] | None
) -> Iterator[Outcome]:
    """One point: times it, then records and reports its outcome."""
    started = time.monotonic()
    yield outcome
    outcome.seconds = time.monotonic() - started
    outcomes.append(outcome)
    if report is not None:
        report(outcome)


def _now() -> datetime:
    return datetime.now(UTC)


def return_item(n: int) -> str:
    return f"3977{n:010d}"


def hold_item(n: int) -> str:
    return f"3988{n:010d}"


def hold_patron(n: int) -> str:
    return f"2388{n:010d}"


def equipment_item(n: int) -> str:
    return f"3999{n:010d}"


def card_patron(n: int) -> str:
    """Patrons of equipment and day use (their own card, so no limit of one affects another)."""
    return f"2399{n:010d}"


def catalogue(returns: int, holds: int = 0, others: int = 0) -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(days=14)).isoformat()
    return {
        "institution": "DEMO",
        "branches": [
            {"code": sandbox.BRANCH, "name": "Main lockers", "locker_bank": True},
            {"code": "EAST", "name": "East"},
        ],
        "accounts": [
            {
                "user": "lockers-main",
                "password": "demo-main",
                "institution": "DEMO",
                "location": sandbox.BRANCH,
            }
        ],
        "patrons": [{"barcode": BORROWER, "pin": "1234", "first_name": "T", "last_name": "P"}]
        + [
            {
                "barcode": hold_patron(n),
                "pin": "1234",
                "first_name": f"H{n}",
                "last_name": "P",
                "email": f"h{n}@example.org",
            }
            for n in range(1, holds + 1)
        ]
        + [
            {"barcode": card_patron(n), "pin": "1234", "first_name": f"E{n}", "last_name": "P"}
            for n in range(1, others + 1)
        ],
        "holds": [
            {
                "id": f"H{n}",
                "patron": hold_patron(n),
                "item": hold_item(n),
                "pickup": sandbox.BRANCH,
                "expires": "2031-12-31",
            }
            for n in range(1, holds + 1)
        ],
        "items": [
            {"barcode": hold_item(n), "title": f"Held {n}", "home": "EAST", "media": "book"}
            for n in range(1, holds + 1)
        ]
        + [
            {
                "barcode": return_item(n),
                "title": f"Book {n}",
                "home": sandbox.BRANCH,
                "media": "book",
                "status": "charged",
                "charged_to": BORROWER,
                "due": due,
            }
            for n in range(1, returns + 1)
        ]
        + [
            {"barcode": equipment_item(n), "title": f"Laptop {n}", "home": sandbox.BRANCH}
            for n in range(1, others + 1)
        ],
    }


@dataclass
class Outcome:
    flow: str
    point: str
    where: str
    crashed: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.crashed and not self.problems

    def cell(self) -> str:
        if not self.crashed:
            return "NOT REACHED"
        return "ok" if not self.problems else "FAIL: " + "; ".join(self.problems)


def table(outcomes: list[Outcome], database: str) -> str:
    rows = [(o.flow, o.point, o.where, o.cell(), f"{o.seconds:.1f}s") for o in outcomes]
    head = ("flow", "commit point", "process and step", f"outcome ({database})", "time")
    widths = [max(len(str(r[i])) for r in [*rows, head]) for i in range(len(head))]
    line = lambda r: " | ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True))  # noqa: E731
    return "\n".join([line(head), "-+-".join("-" * w for w in widths), *map(line, rows)])


class Installation:
    """The running system, and the knobs the suite turns."""

    def __init__(
        self,
        tmp: Path,
        database_url: str,
        returns: int,
        holds: int = 0,
        others: int = 0,
        trace: Path | None = None,
    ) -> None:
        self.tmp = tmp
        self.control = tmp / "crash"
        self.control.mkdir()
        self.redis = sandbox.RedisServer(tmp / "redis")
        self.acs = ReferenceACS(
            catalogue_from_dict(catalogue(returns, holds, others)), behaviour="koha"
        )
        self.controller = BankController(BANK, ALL_DOORS, KEY)
        self.mailbox = Mailbox()
        from tests.ill.conftest import NcipPeer
        from tests.ill.test_flow import ils_ncip, partner_ncip

        self.ils_ncip = NcipPeer(ils_ncip(self.acs, home=sandbox.BRANCH))
        self.ill_partner = NcipPeer(partner_ncip)
        self.mqtt_prefix = f"lbcrash-{uuid.uuid4().hex[:10]}"
        self.mqtt_sim = SimulatedBank(
            MQTT_BANK, RETURN_DOORS, timing=SimTiming(open_delay=0.02, read_delay=0.0)
        )
        self.mqtt_device = MqttDevice(
            self.mqtt_sim,
            signer=Signer(MQTT_BANK, MQTT_KEY, _now),
            verifier=Verifier({MQTT_BANK: MQTT_KEY}, _now),
            settings=MqttSettings(prefix=self.mqtt_prefix),
        )
        self.port = free_port()
        self.web = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.procs: Procs | None = None
        self.rt: Runtime | None = None
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self.restarts: dict[str, int] = {}
        self.armings = 0
        self.trace = trace  # LOCKERBRIDGE_CRASH_TRACE: how a new flow's commit points are found
        self.kiosk = ""  # the enrolled kiosk device's token (kiosk pages)

    def config(self) -> dict[str, Any]:
        return {
            "database_url": self.database_url,
            "redis_url": self.redis.url,
            # Time compressed: a short lease and a sweep every second.
            "outbox_lease_seconds": 4,
            "sweeper_interval_seconds": 1,
            "log_level": "WARNING",
            "web": {"secret_key": "c" * 40, "secure_cookies": False},
            "security": {"code_keys": ["crash-point-code-key-0123456789abcdef"]},
            "ils": [
                {
                    "name": "main-ils",
                    "profile": "koha",
                    "host": "127.0.0.1",
                    "port": self.acs.address[1],
                    "institution": "DEMO",
                    "timeout_seconds": 3,
                    "ncip": {
                        "url": self.ils_ncip.url,
                        "shared_secret": ILS_NCIP_SECRET,
                        "to_agency": "DEMO",
                    },
                }
            ],
            "ill_partners": [
                {
                    "agency": ILL_PARTNER,
                    "url": self.ill_partner.url,
                    "shared_secret": ILL_SECRET,
                }
            ],
            "banks": [
                {
                    "id": BANK,
                    "name": "Main lobby",
                    "branch": sandbox.BRANCH,
                    "ils": "main-ils",
                    "sip_login": {"user": "lockers-main", "password": "demo-main"},
                    "driver": {
                        "kind": "http",
                        "controller_url": self.controller.url,
                        "signing_key": KEY.decode(),
                    },
                    "compartment_ranges": [
                        {"first": PICKUP_DOORS.start, "last": PICKUP_DOORS.stop - 1, "size": "M"},
                        {
                            "first": EQUIPMENT_DOORS.start,
                            "last": EQUIPMENT_DOORS.stop - 1,
                            "size": "M",
                            "purpose": "equipment",
                        },
                        {"first": DAYUSE_DOORS.start, "last": DAYUSE_DOORS.stop - 1, "size": "M"},
                        {
                            "first": RETURN_DOORS.start,
                            "last": RETURN_DOORS.stop - 1,
                            "size": "M",
                            "purpose": "return",
                        },
                    ],
                },
                {
                    "id": MQTT_BANK,
                    "name": "East lobby",
                    "branch": sandbox.BRANCH,
                    "ils": "main-ils",
                    "sip_login": {"user": "lockers-main", "password": "demo-main"},
                    "driver": {
                        "kind": "mqtt",
                        "broker_host": "127.0.0.1",
                        "broker_port": 1883,
                        "topic_prefix": self.mqtt_prefix,
                        "signing_key": MQTT_KEY.decode(),
                    },
                    "compartment_ranges": [
                        {
                            "first": RETURN_DOORS.start,
                            "last": RETURN_DOORS.stop - 1,
                            "size": "M",
                            "purpose": "return",
                        },
                    ],
                },
            ],
            "notifications": {
                "library_name": "Crash Point Library",
                "email": {"enabled": True, "host": "127.0.0.1", "port": self.mailbox.port},
            },
            # Phone links in the ready message, day-use doors, lendable laptops.
            "access": {"public_url": self.web},
            "dayuse": {"compartments": {BANK: list(DAYUSE_DOORS)}, "max_hours": 2},
            "equipment": [{"name": CATEGORY, "label": "Laptops", "max_per_patron": 1}],
            "api": {
                "tokens": [
                    {"name": "scanner-1", "token": STAFF_TOKEN, "role": "staff"},
                    {"name": "kiosk-1", "token": KIOSK_TOKEN, "role": "kiosk"},
                ]
            },
        }

    def start(self) -> None:
        self.ils_ncip.start()
        self.ill_partner.start()
        self.mqtt_device.start()
        self.mailbox.controller.start()
        self.redis.start()
        self.acs.start()
        path = self.tmp / "lockerbridge.toml"
        path.write_text(toml(self.config()))
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
        env.update(
            LOCKERBRIDGE_CONFIG=str(path),
            LOCKERBRIDGE_LOG_LEVEL="WARNING",
            LOCKERBRIDGE_CRASH_CONTROL=str(self.control),
            GUNICORN_ACCESSLOG="",
        )
        if self.trace is not None:
            env["LOCKERBRIDGE_CRASH_TRACE"] = str(self.trace)
        self.procs = Procs(self.tmp / "logs", env)
        upgrade = self.procs.start("upgrade", [str(BIN / "lockerbridge"), "db", "upgrade"])
        assert upgrade.wait(120) == 0, self.procs.log("upgrade")
        self.rt = Runtime.from_settings(load_settings(path))
        from bridge.services.access.kiosks import enrol

        self.kiosk = enrol(self.rt, BANK, "Lobby kiosk", actor="staff:admin")[1]
        self.controller.webhook = self.web + "/api/v1/banks/{bank}/controller/events"
        self.procs.start("web", gunicorn_argv(self.port, workers=1, threads=4))
        for role in ("worker", "scheduler"):
            self.procs.start(role, [str(BIN / "lockerbridge"), role])
        wait_until(
            lambda: requests.get(self.web + "/healthz", timeout=5).status_code == 200,
            timeout=120,
            what=f"gunicorn to answer ({self.procs.log('web')[-600:]})",
        )
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        """Restarts a dead worker or scheduler, as systemd would (gunicorn restarts its own)."""
        assert self.procs is not None
        while not self._stop.wait(0.2):
            for role in ("worker", "scheduler"):
                proc = self.procs.running.get(role)
                if proc is not None and proc.poll() is not None:
                    self.procs.stop(role, timeout=2)  # the rest of its process group
                    self.restarts[role] = self.restarts.get(role, 0) + 1
                    self.procs.start(role, [str(BIN / "lockerbridge"), role])

    def stop(self) -> None:
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(5)
        if self.procs is not None:
            self.procs.stop_all()
        if self.rt is not None:
            self.rt.close()
        self.controller.close()
        self.mqtt_device.close()
        self.mailbox.controller.stop()
        self.ils_ncip.stop()
        self.ill_partner.stop()
        self.acs.stop()
        self.redis.kill()

    # -- crash control ---------------------------------------------------------------------

    def arm(self, label: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.control / "fired").unlink()
        self.armings += 1
        (self.control / "armed").write_text(f"{label} #{self.armings}")

    def fired(self) -> bool:
        return (self.control / "fired").exists()

    def disarm(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.control / "armed").unlink()

    # -- the kiosk -------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any], token: str) -> requests.Response | None:
        """One request on a fresh connection; None when the web process died answering it."""
        try:
            return requests.post(
                f"{self.web}{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}", "Connection": "close"},
                timeout=30,
            )
        except requests.RequestException:
            return None

    def wait_web(self) -> None:
        wait_until(
            lambda: requests.get(self.web + "/healthz", timeout=5).status_code == 200,
            timeout=60,
            what="a web process to answer again",
        )


# --- the return flow ------------------------------------------------------------------------


def return_one(inst: Installation, item: str, bank: str = BANK) -> int | None:
    """A patron returns ``item``: scans it at the kiosk, and puts it into the door that opens
    (a door that opened is used even when the kiosk's answer was lost); scanning again once
    when no door opened. Returns the door used, or None."""
    sim = inst.controller.sim if bank == BANK else inst.mqtt_sim
    before = {d for d in RETURN_DOORS if sim.is_open(d)}
    for _attempt in range(2):
        answer = inst.post(f"/api/v1/banks/{bank}/deposits", {"item": item}, KIOSK_TOKEN)
        door = None
        if answer is not None and answer.status_code == 200:
            door = answer.json().get("compartment")
        if door is None:
            opened = {d for d in RETURN_DOORS if sim.is_open(d)} - before
            door = min(opened) if opened else None
        if door is not None:
            if bank == BANK:
                inst.controller.load(door)
            else:
                number = int(door)
                wait_until(lambda n=number: sim.is_open(n), timeout=10, what=f"door {number}")
                sim.put_item(number)
                assert sim.close_door(number)
            return int(door)
        inst.wait_web()
    return None


def settle(inst: Installation, items: list[str], timeout: float = 45.0) -> None:
    """Waits until the controller delivered its events and no deposit of ``items`` or outbox
    work is still open."""
    inst.controller.settle(timeout)
    assert inst.rt is not None
    rt = inst.rt

    def quiet() -> bool:
        with unit_of_work(rt.sessions) as s:
            open_deposits = s.scalars(
                select(DepositRow.id).where(
                    DepositRow.item_barcode.in_(items),
                    DepositRow.state.not_in(("checked_in", "needs_staff")),
                )
            ).all()
            open_work = s.scalars(
                select(OutboxRow.id).where(OutboxRow.state.in_(("pending", "leased")))
            ).all()
            scans = s.scalars(
                select(LoadRow.id).where(LoadRow.item_barcode.in_(items), LoadRow.kind == "deposit")
            ).all()
        return not open_deposits and not open_work and not scans

    with contextlib.suppress(AssertionError):
        wait_until(quiet, timeout=timeout, every=0.2, what="the system to settle")


def check_return(
    inst: Installation, item: str, door: int | None, started: datetime, bank: str = BANK
) -> list[str]:
    """The invariants of one return, from the database, the ACS ledger and the controller."""
    assert inst.rt is not None
    problems: list[str] = []
    with unit_of_work(inst.rt.sessions) as s:
        deposits = s.scalars(select(DepositRow).where(DepositRow.item_barcode == item)).all()
        scans = s.scalars(
            select(LoadRow).where(LoadRow.item_barcode == item, LoadRow.kind == "deposit")
        ).all()
        row = None
        if door is not None:
            row = s.scalars(
                select(CompartmentRow).where(
                    CompartmentRow.bank_id == bank, CompartmentRow.number == door
                )
            ).one()
    sim = inst.controller.sim if bank == BANK else inst.mqtt_sim
    in_door = door is not None and sim.items_in(door) > 0
    if in_door:
        # Every item physically in a door is accounted for: exactly one deposit, of that door.
        if len(deposits) != 1:
            problems.append(f"item in door {door} but {len(deposits)} deposit(s)")
        elif deposits[0].compartment != door:
            problems.append(f"deposit names door {deposits[0].compartment}, item in {door}")
        if row is not None and row.state != "return_occupied":
            problems.append(f"door {door} holds the item but is {row.state}")
    elif deposits:
        problems.append("a deposit for an item that is in no door")
    if scans:
        problems.append(f"{len(scans)} scan(s) left over")
    for d in deposits:
        if d.state != "checked_in":
            problems.append(f"deposit ended {d.state} ({d.reason or d.last_error})")
    checkins = inst.acs.ledger.checkins(item)
    if in_door and len(checkins) != 1:
        problems.append(f"checked in {len(checkins)} times (ACS ledger)")
    if inst.acs.ledger.loans_closed(item) > 1:
        problems.append("loan closed twice (ACS ledger)")
    for entry in checkins:
        returned = getattr(entry, "return_date", None) or getattr(entry, "returned_at", None)
        if (
            deposits
            and returned is not None
            and abs((_aware(returned) - _aware(deposits[0].deposited_at)).total_seconds()) > 1
        ):
            problems.append(
                f"check-in dated {returned}, not the deposit {deposits[0].deposited_at}"
            )
    if not in_door:
        problems.append("the item never got into a door")
    del started
    return problems


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def crash_during(inst: Installation, label: str, act: Callable[[], T]) -> tuple[T, bool]:
    """Arms the crash point ``label`` and does ``act``; the crash may come later (the worker's
    part), so it waits for it, then disarms the point and waits for the web process to be back.
    Returns what ``act`` returned and whether the crash happened."""
    inst.arm(label)
    result = act()
    with contextlib.suppress(AssertionError):
        wait_until(inst.fired, timeout=20, every=0.1, what=f"crash at {label}")
    crashed = inst.fired()
    inst.disarm()
    inst.wait_web()
    return result, crashed


def run_returns(
    inst: Installation,
    points: tuple[tuple[str, str], ...] = RETURN_POINTS,
    *,
    first_item: int = 1,
    bank: str = BANK,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    via = "webhook" if bank == BANK else "MQTT"
    for n, (label, where) in enumerate(points, start=first_item):
        item = return_item(n)
        with _timed(
            Outcome(f"return ({via})", label, where.replace("web (webhook)", f"listener ({via})")),
            outcomes,
            report,
        ) as outcome:
            door, outcome.crashed = crash_during(inst, label, partial(return_one, inst, item, bank))
            settle(inst, [item])
            outcome.problems = check_return(inst, item, door, datetime.now(UTC), bank)
    return outcomes


# --- loading a hold ---------------------------------------------------------------------------


def load_one(inst: Installation, item: str) -> int | None:
    """Staff scan ``item`` at the bank and put it into the door that opens (a door that opened
    is used even when the answer was lost); they scan again once when no door opened."""
    before = {d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)}
    for _attempt in range(2):
        answer = inst.post(f"/api/v1/banks/{BANK}/loading/scan", {"item": item}, STAFF_TOKEN)
        door = None
        if answer is not None and answer.status_code == 200:
            door = answer.json().get("compartment")
        if door is None or not inst.controller.sim.is_open(int(door)):
            opened = {d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)} - before
            door = min(opened) if opened else None
        if door is not None:
            inst.controller.load(int(door))
            return int(door)
        inst.wait_web()
    return None


def _last_message(inst: Installation) -> int:
    assert inst.rt is not None
    with unit_of_work(inst.rt.sessions) as s:
        return int(s.scalar(select(func.max(NotificationRow.id))) or 0)


def check_loading(
    inst: Installation, item: str, door: int | None, messages_before: int
) -> list[str]:
    assert inst.rt is not None
    problems: list[str] = []
    with unit_of_work(inst.rt.sessions) as s:
        loads = s.scalars(select(LoadRow).where(LoadRow.item_barcode == item)).all()
        told = s.scalars(
            select(NotificationRow).where(
                NotificationRow.kind == "ready_for_pickup", NotificationRow.id > messages_before
            )
        ).all()
        grants = {
            g.grant_id: g
            for g in s.scalars(select(AccessGrantRow).where(AccessGrantRow.revoked_at.is_(None)))
        }
    in_door = door is not None and inst.controller.sim.items_in(door) > 0
    mine = list(told)
    if not in_door:
        problems.append("the item never got into a door")
    if len(loads) != 1:
        problems.append(f"{len(loads)} load row(s)")
    elif in_door and (loads[0].state, loads[0].compartment) != ("loaded", door):
        problems.append(f"load {loads[0].state} in door {loads[0].compartment}, item in {door}")
    if in_door and len(mine) != 1:
        problems.append(f"patron told {len(mine)} times")
    for n in mine:
        # No patron told about an item not in a door: the message's code opens the item's door.
        grant = grants.get(n.event_key.removeprefix("ready:"))
        if grant is None or door not in (grant.compartments or []):
            problems.append(f"message {n.id}'s code does not open door {door}")
    valid = [g for g in grants.values() if door is not None and door in (g.compartments or [])]
    if in_door and len(valid) != 1:
        problems.append(f"{len(valid)} live code(s) for the door")
    if len(inst.acs.ledger.checkins(item)) != 1:
        problems.append(f"checked in {len(inst.acs.ledger.checkins(item))} times at loading")
    return problems


def run_loading(
    inst: Installation,
    points: tuple[tuple[str, str], ...] = LOADING_POINTS,
    *,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for n, (label, where) in enumerate(points, start=1):
        item = hold_item(n)
        with _timed(Outcome("loading (staff route)", label, where), outcomes, report) as outcome:
            messages_before = _last_message(inst)
            door, outcome.crashed = crash_during(inst, label, partial(load_one, inst, item))
            settle(inst, [])
            outcome.problems = check_loading(inst, item, door, messages_before)
    return outcomes


# --- pickup by code ---------------------------------------------------------------------------


def _message_to(inst: Installation, n: int) -> Any:
    def found() -> Any:
        for _f, to, message in inst.mailbox.messages:
            if to == [f"h{n}@example.org"]:
                return message
        return None

    return wait_until(found, timeout=30, what=f"the ready message to h{n}")


def code_for(inst: Installation, n: int) -> str:
    body = _message_to(inst, n).get_body(("plain",)).get_content()
    match = re.search(r"pickup code: ([0-9]{6,12})", body)
    assert match, f"no pickup code in the message to h{n}"
    return match.group(1)


def secret_for(inst: Installation, n: int, way: str) -> str:
    """What the patron brings for ``way``: the typed code, the QR code's token (read from the
    message's image), the phone link's address, or their card."""
    if way == "code":
        return code_for(inst, n)
    if way == "card":
        return hold_patron(n)
    message = _message_to(inst, n)
    if way == "qr":
        import io

        import zxingcpp
        from PIL import Image

        images = [p for p in message.walk() if p.get_content_maintype() == "image"]
        assert images, f"no QR code in the message to h{n}"
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(images[0].get_content())))
        assert found, "the message's QR code does not read"
        return str(found[0].text)
    body = message.get_body(("plain",)).get_content()
    match = re.search(r"On your phone: (\S+)", body)
    assert match, f"no phone link in the message to h{n}"
    return match.group(1)


def _ask(inst: Installation, way: str, secret: str) -> list[int]:
    """One try of the patron's ``way``; the doors the answer says opened."""
    if way == "phone":
        # The patron's phone: the link's page, then the number shown on the kiosk's screen.
        from bridge.services.access.phone import kiosk_code

        assert inst.rt is not None
        with requests.Session() as phone:
            try:
                page = phone.get(secret, timeout=30)
                token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
                if token is None:
                    return []
                phone.post(
                    f"{secret}/open",
                    data={"code": kiosk_code(inst.rt, BANK)[0], "csrf_token": token.group(1)},
                    headers={"Connection": "close"},
                    timeout=30,
                )
            except requests.RequestException:
                pass
        return []
    body = {"card": {"card": secret, "pin": "1234"}, "code": {"code": secret}}.get(
        way, {"token": secret}
    )
    answer = inst.post(f"/api/v1/banks/{BANK}/pickup/{way}", body, KIOSK_TOKEN)
    if answer is not None and answer.status_code == 200:
        return [int(d) for d in answer.json().get("opened") or ()]
    return []


def pick_up(inst: Installation, secret: str, way: str = "code") -> int | None:
    """The patron uses ``way`` and takes everything from the door that opens (a door that
    opened is used even when the answer was lost); tries again once when no door opened.
    Returns the door."""
    before = {d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)}
    for _attempt in range(2):
        said = set(_ask(inst, way, secret))
        opened = ({d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)} - before) | said
        if opened:
            door = min(opened)
            inst.controller.collect(door)
            return door
        inst.wait_web()
    return None


def lent_once(inst: Installation, item: str) -> list[str]:
    """The ACS's ledger: ``item`` checked out exactly once."""
    times = len(inst.acs.ledger.checkouts(item))
    return [] if times == 1 else [f"checked out {times} times"]


def check_pickup(inst: Installation, item: str, door: int | None, since: datetime) -> list[str]:
    assert inst.rt is not None
    problems: list[str] = []
    if door is None:
        return ["no door opened for the code"]
    with unit_of_work(inst.rt.sessions) as s:
        loads = s.scalars(select(LoadRow).where(LoadRow.item_barcode == item)).all()
        row = s.scalars(
            select(CompartmentRow).where(
                CompartmentRow.bank_id == BANK, CompartmentRow.number == door
            )
        ).one()
        live = [
            g
            for g in s.scalars(
                select(AccessGrantRow).where(
                    AccessGrantRow.used_at.is_(None), AccessGrantRow.revoked_at.is_(None)
                )
            )
            if door in (g.compartments or [])
        ]
        openings = s.scalars(
            select(AuditEventRow.at).where(
                AuditEventRow.kind == "pickup_door_opened",
                AuditEventRow.compartment == door,
                AuditEventRow.at >= since,
            )
        ).all()
    if inst.controller.sim.items_in(door):
        problems.append(f"door {door} still holds the item")
    if row.state != "free":
        problems.append(f"door {door} is {row.state}")
    if loads:
        problems.append(f"{len(loads)} load row(s) left")
    if live:
        problems.append("a code is still valid for the emptied door")
    if len(openings) != 1:
        problems.append(f"door {door} opened {len(openings)} times for one code {openings}")
    problems += lent_once(inst, item)
    return problems


WAYS = {
    "code": "pickup by code (kiosk route)",
    "card": "pickup by card + PIN (kiosk route)",
    "qr": "pickup by QR (kiosk route)",
    "phone": "pickup by phone link (phone page)",
}


def run_pickups(
    inst: Installation,
    points: tuple[tuple[str, str], ...] = PICKUP_POINTS,
    *,
    first: int,
    way: str = "code",
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for n, (label, where) in enumerate(points, start=first):
        item = hold_item(n)
        with _timed(Outcome(WAYS[way], label, where), outcomes, report) as outcome:
            load_one(inst, item)
            settle(inst, [])
            secret = secret_for(inst, n, way)
            since = datetime.now(UTC)
            door, outcome.crashed = crash_during(inst, label, partial(pick_up, inst, secret, way))
            settle(inst, [])
            outcome.problems = check_pickup(inst, item, door, since)
    return outcomes


# --- equipment lending -----------------------------------------------------------------------


def stock(inst: Installation, n: int) -> int:
    """Staff stock laptop ``n`` into the first empty equipment door and shut it."""
    from bridge.services.equipment import stock_equipment

    assert inst.rt is not None
    with unit_of_work(inst.rt.sessions) as s:
        busy = set(
            s.scalars(
                select(CompartmentRow.number).where(
                    CompartmentRow.bank_id == BANK,
                    CompartmentRow.number.in_(list(EQUIPMENT_DOORS)),
                    CompartmentRow.state != "free",
                )
            )
        )
    door = min(set(EQUIPMENT_DOORS) - busy)
    opened = stock_equipment(inst.rt, BANK, door, equipment_item(n), CATEGORY, "staff:crash")
    inst.controller.load(opened)
    return opened


def borrow(inst: Installation, n: int) -> int | None:
    """Patron ``n`` borrows a laptop with card and PIN and takes it from the door that opens
    (the open door is used even when the answer was lost); tries again once when none did."""
    before = {d for d in EQUIPMENT_DOORS if inst.controller.sim.is_open(d)}
    body = {"card": card_patron(n), "pin": "1234", "item_or_category": CATEGORY}
    for _attempt in range(2):
        answer = inst.post(f"/api/v1/banks/{BANK}/equipment/borrow", body, KIOSK_TOKEN)
        opened = {d for d in EQUIPMENT_DOORS if inst.controller.sim.is_open(d)} - before
        if answer is not None and answer.status_code == 200:
            said = answer.json()
            if said.get("outcome") == "opened" and said.get("compartment"):
                opened.add(int(said["compartment"]))
        if opened:
            door = min(opened)
            inst.controller.collect(door)
            return door
        inst.wait_web()
    return None


def _openings(s: Any, door: int, since: datetime) -> int:
    return len(
        s.scalars(
            select(AuditEventRow.id).where(
                AuditEventRow.kind == "pickup_door_opened",
                AuditEventRow.bank_id == BANK,
                AuditEventRow.compartment == door,
                AuditEventRow.at >= since,
            )
        ).all()
    )


def check_borrow(
    inst: Installation, n: int, stocked: int, door: int | None, since: datetime
) -> list[str]:
    from bridge.services.banks import pseudonym
    from bridge.storage.tables.lockers import EquipmentRow

    assert inst.rt is not None
    item = equipment_item(n)
    problems: list[str] = []
    if door is None:
        return ["no door opened for the loan"]
    if door != stocked:
        problems.append(f"door {door} opened, the laptop is in {stocked}")
    with unit_of_work(inst.rt.sessions) as s:
        row = s.scalars(select(EquipmentRow).where(EquipmentRow.item_barcode == item)).one()
        lent = s.scalars(
            select(AuditEventRow.id).where(
                AuditEventRow.kind == "equipment_lent", AuditEventRow.item == item
            )
        ).all()
        door_row = s.scalars(
            select(CompartmentRow).where(
                CompartmentRow.bank_id == BANK, CompartmentRow.number == stocked
            )
        ).one()
        loads = s.scalars(select(LoadRow).where(LoadRow.item_barcode == item)).all()
        openings = _openings(s, stocked, since)
    if inst.controller.sim.items_in(stocked):
        problems.append(f"door {stocked} still holds the laptop")
    if (row.state, row.borrower_ref) != ("on_loan", pseudonym(inst.rt, card_patron(n))):
        problems.append(f"laptop {row.state}, lent to {row.borrower_ref}")
    if len(lent) != 1:
        problems.append(f"loan recorded {len(lent)} times")
    if door_row.state != "free":
        problems.append(f"door {stocked} is {door_row.state}")
    if loads:
        problems.append(f"{len(loads)} load row(s) left")
    if openings != 1:
        problems.append(f"door {stocked} opened {openings} times for one loan")
    problems += lent_once(inst, item)
    return problems


def run_equipment(
    inst: Installation,
    points: tuple[tuple[str, str], ...],
    *,
    first: int = 1,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for n, (label, where) in enumerate(points, start=first):
        with _timed(Outcome("equipment (kiosk route)", label, where), outcomes, report) as outcome:
            stocked = stock(inst, n)
            settle(inst, [])
            since = datetime.now(UTC)
            door, outcome.crashed = crash_during(inst, label, partial(borrow, inst, n))
            settle(inst, [])
            outcome.problems = check_borrow(inst, n, stocked, door, since)
    return outcomes


# --- day use ----------------------------------------------------------------------------------


def _kiosk_form(inst: Installation, data: dict[str, str]) -> None:
    """The kiosk's day-use screen: the form, then its answer (lost when the web process dies)."""
    path = f"{inst.web}/kiosk/{BANK}/dayuse"
    with requests.Session() as kiosk:
        kiosk.headers["X-Lockerbridge-Kiosk"] = inst.kiosk
        try:
            page = kiosk.get(path, timeout=30)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if token is not None:
                kiosk.post(
                    path,
                    data={**data, "csrf_token": token.group(1)},
                    headers={"Connection": "close"},
                    timeout=30,
                )
        except requests.RequestException:
            pass


def _phone_form(inst: Installation, data: dict[str, str]) -> None:
    """The phone's day-use page: the form, sent with the number the kiosk's screen shows now;
    its answer is lost when the web process dies."""
    from bridge.services.access.phone import kiosk_code

    assert inst.rt is not None
    path = f"{inst.web}/phone/dayuse/{BANK}"
    with requests.Session() as phone:
        try:
            page = phone.get(path, timeout=30)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            if token is not None:
                code = kiosk_code(inst.rt, BANK)[0]
                phone.post(
                    path,
                    data={**data, "code": code, "csrf_token": token.group(1)},
                    headers={"Connection": "close"},
                    timeout=30,
                )
        except requests.RequestException:
            pass


def _dayuse_door(
    inst: Installation, n: int, data: dict[str, str], act: str, way: str = "kiosk"
) -> int | None:
    """Patron ``n`` sends the day-use form (``way``: the kiosk's or the phone's page) and, at
    the door that opens, does ``act`` ("put": leaves a bag; "take": takes everything) and shuts
    it; tries again once when none opened."""
    form = _phone_form if way == "phone" else _kiosk_form
    before = {d for d in DAYUSE_DOORS if inst.controller.sim.is_open(d)}
    for _attempt in range(2):
        form(inst, {"card": card_patron(n), "pin": "1234", **data})
        opened = {d for d in DAYUSE_DOORS if inst.controller.sim.is_open(d)} - before
        if opened:
            door = min(opened)
            (inst.controller.load if act == "put" else inst.controller.collect)(door)
            return door
        inst.wait_web()
    return None


def check_dayuse(inst: Installation, n: int, door: int | None, *, finished: bool) -> list[str]:
    from bridge.services.banks import pseudonym
    from bridge.storage.tables.access import DayUseRow

    assert inst.rt is not None
    if door is None:
        return ["no door opened"]
    problems: list[str] = []
    with unit_of_work(inst.rt.sessions) as s:
        rows = s.scalars(
            select(DayUseRow).where(DayUseRow.patron_ref == pseudonym(inst.rt, card_patron(n)))
        ).all()
        others = s.scalars(
            select(DayUseRow.id).where(
                DayUseRow.compartment == door,
                DayUseRow.state == "active",
                DayUseRow.patron_ref != pseudonym(inst.rt, card_patron(n)),
            )
        ).all()
    if len(rows) != 1:
        return [f"{len(rows)} reservation(s) for one patron"]
    row = rows[0]
    if row.compartment != door:
        problems.append(f"reservation names door {row.compartment}, door {door} opened")
    if others:
        problems.append(f"door {door} reserved for another patron too")
    held = inst.controller.sim.items_in(door)
    if finished:
        if row.state != "ended":
            problems.append(f"reservation {row.state} after finishing")
        if held:
            problems.append(f"door {door} still holds the patron's things")
    else:
        if row.state != "active":
            problems.append(f"reservation {row.state}, the patron's things in door {door}")
        if not held:
            problems.append(f"door {door} is empty")
    return problems


def run_dayuse(
    inst: Installation,
    points: tuple[tuple[str, str], ...],
    *,
    finishing: tuple[tuple[str, str], ...] = (),
    first: int,
    way: str = "kiosk",
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Reserve (``points``: patron ``first``, ``first + 1``...; each then finishes unarmed),
    then finish (``finishing``: each patron reserves unarmed first), from the kiosk's page or
    (``way="phone"``) the phone's."""
    outcomes = []
    reserve = {"hours": "1", "action": "use"}
    finish = {"action": "finish"}
    door_of = partial(_dayuse_door, inst, way=way)
    for i, (label, where) in enumerate((*points, *finishing)):
        n = first + i
        ending = i >= len(points)
        flow = f"day use {'finish' if ending else 'reserve'} ({way} page)"
        with _timed(Outcome(flow, label, where), outcomes, report) as outcome:
            if ending:
                door_of(n, reserve, "put")
                settle(inst, [])
                door, outcome.crashed = crash_during(
                    inst, label, partial(door_of, n, finish, "take")
                )
            else:
                door, outcome.crashed = crash_during(
                    inst, label, partial(door_of, n, reserve, "put")
                )
            settle(inst, [])
            outcome.problems = check_dayuse(inst, n, door, finished=ending)
            if not ending and door is not None:
                door_of(n, finish, "take")  # frees the door for the next point
                settle(inst, [])
    return outcomes


# --- inter-library loans ----------------------------------------------------------------------


def ill_item(n: int) -> str:
    return f"ILL-CRASH-{n:04d}"


def announce(inst: Installation, n: int, patron: str) -> None:
    """The lending library's AcceptItem over NCIP; sent again (same RequestId) once when the
    answer was lost or said to retry, as ILL systems do."""
    from ils_adapters.base import IlsUnavailable, OutcomeUnknown
    from ils_adapters.ncip import Header, NcipClient, NcipMalformed, NcipRejected

    lender = NcipClient(
        f"{inst.web}/ncip", Header(ILL_PARTNER, "DEMO"), headers={"X-NCIP-Secret": ILL_SECRET}
    )
    for _attempt in range(2):
        try:
            lender.accept_item(
                request=f"REQ-{n}",
                user=patron,
                item=ill_item(n),
                pickup_location=sandbox.BRANCH,
                title=f"Borrowed {n}",
            )
            return
        except (IlsUnavailable, OutcomeUnknown, NcipMalformed, NcipRejected):
            # A lost answer, or "Temporary Processing Failure": the same RequestId again.
            inst.wait_web()


def _ill_through_the_lockers(inst: Installation, n: int, patron: str) -> tuple[int | None, int]:
    """Announced, loaded, picked up with card + PIN, returned: the pickup door and the return
    door (every step at its real entry point)."""
    announce(inst, n, patron)
    item = ill_item(n)
    load_one(inst, item)
    settle(inst, [])
    door = pick_up(inst, patron, "card")
    back = return_one(inst, item)
    return door, back or 0


def check_ill(inst: Installation, n: int, patron: str, door: int | None, back: int) -> list[str]:
    from bridge.storage.tables.ill import IllRequestRow
    from ils_adapters.ncip import CheckInItemRequest, parse_request

    assert inst.rt is not None
    item = ill_item(n)
    problems: list[str] = []
    if door is None:
        problems.append("no door opened at pickup")
    with unit_of_work(inst.rt.sessions) as s:
        loans = s.scalars(select(IllRequestRow).where(IllRequestRow.request_id == f"REQ-{n}")).all()
        deposits = s.scalars(select(DepositRow).where(DepositRow.item_barcode == item)).all()
    if len(loans) != 1:
        problems.append(f"{len(loans)} loan row(s) for one AcceptItem")
    elif loans[0].state != "closed":
        problems.append(f"loan {loans[0].state} ({loans[0].last_error})")
    if not back or inst.controller.sim.items_in(back) != 1:
        problems.append("the returned item is in no return door")
    if [d.state for d in deposits] != ["checked_in"]:
        problems.append(f"deposits {[d.state for d in deposits]}")
    forwarded = [r for r in inst.ils_ncip.received if item.encode() in r.body]
    if len(forwarded) != 1:
        problems.append(f"AcceptItem passed on to the ILS {len(forwarded)} times")
    holds = [h for h in inst.acs.catalogue.holds_of(patron) if h.item == item]
    if len(holds) > 1:
        problems.append(f"{len(holds)} holds at the ILS")
    told = []
    for got in inst.ill_partner.received:
        sent = parse_request(got.body)
        if isinstance(sent, CheckInItemRequest) and sent.item == item:
            told.append(sent)
    if len(told) != 1:
        problems.append(f"the lender told {len(told)} times")
    problems += lent_once(inst, item)
    # Checked in at loading (the hold captured), then once for the return.
    if len(inst.acs.ledger.checkins(item)) != 2:
        problems.append(f"checked in {len(inst.acs.ledger.checkins(item))} times (2 expected)")
    return problems


def run_ill(
    inst: Installation,
    points: tuple[tuple[str, str], ...],
    *,
    first: int,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for i, (label, where) in enumerate(points):
        n = first + i
        patron = card_patron(n)
        with _timed(
            Outcome("ILL (NCIP, then kiosk and staff)", label, where), outcomes, report
        ) as outcome:
            (door, back), outcome.crashed = crash_during(
                inst, label, partial(_ill_through_the_lockers, inst, n, patron)
            )
            settle(inst, [ill_item(n)])
            with contextlib.suppress(AssertionError):
                wait_until(partial(_ill_closed, inst, n), timeout=30, every=0.2, what="loan closed")
            outcome.problems = check_ill(inst, n, patron, door, back)
    return outcomes


def _ill_closed(inst: Installation, n: int) -> bool:
    from bridge.storage.tables.ill import IllRequestRow

    assert inst.rt is not None
    with unit_of_work(inst.rt.sessions) as s:
        state = s.scalar(select(IllRequestRow.state).where(IllRequestRow.request_id == f"REQ-{n}"))
    return state == "closed"


@contextlib.contextmanager
def installation(
    tmp: Path,
    database: str,
    returns: int,
    holds: int = 0,
    others: int = 0,
    trace: Path | None = None,
) -> Iterator[Installation]:
    db = sandbox.Database(database, tmp, prefix="crashpoints")
    inst = Installation(tmp, db.url, returns, holds, others, trace)
    try:
        inst.start()
        yield inst
    finally:
        inst.stop()
        with contextlib.suppress(Exception):
            db.drop()


__all__ = [
    "CARD_POINTS",
    "DAYUSE_FINISH_POINTS",
    "DAYUSE_PHONE_FINISH_POINTS",
    "DAYUSE_PHONE_POINTS",
    "DAYUSE_POINTS",
    "EQUIPMENT_POINTS",
    "ILL_POINTS",
    "LOADING_POINTS",
    "MQTT_BANK",
    "PHONE_POINTS",
    "PICKUP_POINTS",
    "QR_POINTS",
    "RETURN_POINTS",
    "Installation",
    "Outcome",
    "installation",
    "run_dayuse",
    "run_equipment",
    "run_ill",
    "run_loading",
    "run_pickups",
    "run_returns",
    "table",
]
_ = json  # the catalogue is JSON-shaped data
