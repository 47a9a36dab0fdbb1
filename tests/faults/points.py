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
from tests.notify.servers import Mailbox
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

# The commit points of a return, in the order they happen, and the process that reaches each.
RETURN_POINTS = (
    ("return_doors.open_return_door", "web: the scan reserves a return door"),
    ("doors._record_opened", "web: the controller confirmed the door open"),
    ("doors._door_opened", "web (webhook): door opened event"),
    ("doors._occupancy", "web (webhook): occupancy event"),
    ("doors.door_closed", "web (webhook): door closed: deposit recorded"),
    ("returns.check_in_deposit", "worker: check-in claimed, checkin_sent set"),
    ("returns._finish", "worker: check-in result stored"),
)


# The commit points of loading a hold: the staff scan (route), the door events (webhook), the
# message to the patron (worker).
LOADING_POINTS = (
    ("loading.scan_item", "web: the scan's local checks"),
    ("loading._load", "web: hold checked in, door reserved"),
    ("doors._record_opened", "web: the controller confirmed the door open"),
    ("doors._door_opened", "web (webhook): door opened event"),
    ("doors._occupancy", "web (webhook): occupancy event"),
    ("doors.door_closed", "web (webhook): loaded, code issued, message queued"),
    ("notify.delivery._deliver", "worker: message claimed"),
    ("notify.delivery._settle", "worker: message done"),
)


# The commit points of a pickup by typed code (kiosk route), then the door's events (webhook).
PICKUP_POINTS = (
    ("access.verification.verify_secret", "web: code looked up (limits held in Redis)"),
    ("pickup.hand_over:1", "web: the patron's items read"),
    ("pickup.hand_over:2", "web: doors out of order read"),
    ("pickup.hand_over:3", "web: items lent, doors picked_up, code used"),
    ("doors._record_opened", "web: the controller confirmed the door open"),
    ("doors._door_opened", "web (webhook): door opened event"),
    ("doors._occupancy", "web (webhook): occupancy event"),
    ("doors.door_closed", "web (webhook): door closed empty: freed"),
)


def _now() -> datetime:
    return datetime.now(UTC)


def return_item(n: int) -> str:
    return f"3977{n:010d}"


def hold_item(n: int) -> str:
    return f"3988{n:010d}"


def hold_patron(n: int) -> str:
    return f"2388{n:010d}"


def catalogue(returns: int, holds: int = 0) -> dict[str, Any]:
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

    def __init__(self, tmp: Path, database_url: str, returns: int, holds: int = 0) -> None:
        self.tmp = tmp
        self.control = tmp / "crash"
        self.control.mkdir()
        self.redis = sandbox.RedisServer(tmp / "redis")
        self.acs = ReferenceACS(catalogue_from_dict(catalogue(returns, holds)), behaviour="koha")
        self.controller = BankController(BANK, range(1, PICKUP_DOORS.stop), KEY)
        self.mailbox = Mailbox()
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
            "api": {
                "tokens": [
                    {"name": "scanner-1", "token": STAFF_TOKEN, "role": "staff"},
                    {"name": "kiosk-1", "token": KIOSK_TOKEN, "role": "kiosk"},
                ]
            },
        }

    def start(self) -> None:
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
        self.procs = Procs(self.tmp / "logs", env)
        upgrade = self.procs.start("upgrade", [str(BIN / "lockerbridge"), "db", "upgrade"])
        assert upgrade.wait(120) == 0, self.procs.log("upgrade")
        self.rt = Runtime.from_settings(load_settings(path))
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
        outcome = Outcome(
            f"return ({via})", label, where.replace("web (webhook)", f"listener ({via})")
        )
        started = time.monotonic()
        door, outcome.crashed = crash_during(inst, label, partial(return_one, inst, item, bank))
        settle(inst, [item])
        outcome.problems = check_return(inst, item, door, datetime.now(UTC), bank)
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
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
        outcome = Outcome("loading (staff route)", label, where)
        started = time.monotonic()
        messages_before = _last_message(inst)
        door, outcome.crashed = crash_during(inst, label, partial(load_one, inst, item))
        settle(inst, [])
        outcome.problems = check_loading(inst, item, door, messages_before)
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes


# --- pickup by code ---------------------------------------------------------------------------


def code_for(inst: Installation, n: int) -> str:
    def found() -> str | None:
        for _f, to, message in inst.mailbox.messages:
            if to == [f"h{n}@example.org"]:
                body = message.get_body(("plain",)).get_content()
                match = re.search(r"pickup code: ([0-9]{6,12})", body)
                return match.group(1) if match else None
        return None

    code: str = wait_until(found, timeout=30, what=f"the code message to h{n}")
    return code


def pick_up(inst: Installation, code: str) -> int | None:
    """The patron types the code and takes everything from the door that opens (a door that
    opened is used even when the kiosk's answer was lost); types it again once when no door
    opened. Returns the door."""
    before = {d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)}
    for _attempt in range(2):
        answer = inst.post(f"/api/v1/banks/{BANK}/pickup/code", {"code": code}, KIOSK_TOKEN)
        opened = {d for d in PICKUP_DOORS if inst.controller.sim.is_open(d)} - before
        if answer is not None and answer.status_code == 200 and answer.json().get("opened"):
            opened |= set(answer.json()["opened"])
        if opened:
            door = min(opened)
            inst.controller.collect(door)
            return door
        inst.wait_web()
    return None


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
    if len(inst.acs.ledger.checkouts(item)) != 1:
        problems.append(f"checked out {len(inst.acs.ledger.checkouts(item))} times")
    return problems


def run_pickups(
    inst: Installation,
    points: tuple[tuple[str, str], ...] = PICKUP_POINTS,
    *,
    first: int,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    outcomes = []
    for n, (label, where) in enumerate(points, start=first):
        item = hold_item(n)
        outcome = Outcome("pickup by code (kiosk route)", label, where)
        started = time.monotonic()
        load_one(inst, item)
        settle(inst, [])
        code = code_for(inst, n)
        since = datetime.now(UTC)
        door, outcome.crashed = crash_during(inst, label, partial(pick_up, inst, code))
        settle(inst, [])
        outcome.problems = check_pickup(inst, item, door, since)
        outcome.seconds = time.monotonic() - started
        outcomes.append(outcome)
        if report is not None:
            report(outcome)
    return outcomes


@contextlib.contextmanager
def installation(tmp: Path, database: str, returns: int, holds: int = 0) -> Iterator[Installation]:
    db = sandbox.Database(database, tmp, prefix="crashpoints")
    inst = Installation(tmp, db.url, returns, holds)
    try:
        inst.start()
        yield inst
    finally:
        inst.stop()
        with contextlib.suppress(Exception):
            db.drop()


__all__ = [
    "LOADING_POINTS",
    "MQTT_BANK",
    "PICKUP_POINTS",
    "RETURN_POINTS",
    "Installation",
    "Outcome",
    "installation",
    "run_loading",
    "run_pickups",
    "run_returns",
    "table",
]
_ = json  # the catalogue is JSON-shaped data
