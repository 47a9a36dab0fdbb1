"""Offline loans reach the ILS exactly once although the sending worker dies.

Real parts: a SQLite file, Redis, the reference ACS over TCP, and the sender in a separate
process that ends right after a named commit (``LOCKERBRIDGE_CRASH_AT``) or is killed while
the ACS has acted and its reply is lost. Another process then finishes the work; the ACS's
ledger must show each loan once, with no-block and its original transaction date.

The outage test drives every pickup through gunicorn as patrons do: code and QR at the kiosk
API route, the phone link on the phone page with the number from the bank's enrolled kiosk;
the doors are simulated banks behind HTTP controllers whose signed events reach the webhook.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bridge.config import load_settings
from bridge.infra.crashpoints import CRASH_STATUS, ENV_CRASH_AT
from bridge.runtime import Runtime
from bridge.services import offline_loans
from bridge.services.assembly import assemble
from bridge.services.bank_setup import sync_banks
from bridge.services.loading import scan_item
from bridge.services.pickup import PickupOutcome, pickup_with_code
from bridge.services.wiring import driver_for
from bridge.storage.db import make_engine, unit_of_work
from bridge.storage.migrate import upgrade
from bridge.storage.tables.notifications import NotificationRow
from bridge.storage.tables.offline import OfflineLoanRow
from bridge.web.kiosk.identity import KIOSK_HEADER
from lockers.drivers.simulated import SimulatedBank
from sip2.acs.server import ReferenceACS
from tests.faults.points import KIOSK_TOKEN, STAFF_TOKEN
from tests.support.config import REPO, base_config
from tests.topology.controllers import BankController
from tests.topology.procs import Procs, free_port, gunicorn_argv, wait_until
from tests.web.conftest import csrf_from

ITEMS = ("39000000000001", "39000000000013")  # Ana's and Chloé's holds at the main lobby


@pytest.fixture
def spec(tmp_path: Path, acs: ReferenceACS, embedded_redis: Any, redis_conn: Any) -> dict[str, Any]:
    host, port = acs.address
    database_url = f"sqlite:///{tmp_path}/offline.db"
    config = base_config(
        tmp_path,
        database_url=database_url,
        outbox_lease_seconds=1,
        ils=[
            {
                "name": "main-ils",
                "profile": "koha",
                "host": host,
                "port": port,
                "institution": "DEMO",
                "timeout_seconds": 3,
            }
        ],
    )
    for bank in config["banks"]:
        bank.update(offline_pickup="codes", driver={"kind": "simulated", "door_delay_seconds": 0})
    upgrade(make_engine(database_url))
    return {"config": config, "database_url": database_url, "redis": embedded_redis.url}


@pytest.fixture
def rt(spec: dict[str, Any], redis_conn: Any) -> Iterator[Runtime]:
    runtime = Runtime.over(
        load_settings(None, **spec["config"]), make_engine(spec["database_url"]), redis_conn
    )
    sync_banks(runtime)
    assemble(runtime)
    yield runtime
    runtime.close()


def _picked_up_offline(rt: Runtime, acs: ReferenceACS) -> list[OfflineLoanRow]:
    sim = driver_for(rt, "main-lobby")
    assert isinstance(sim, SimulatedBank)
    codes = []
    for item in ITEMS:
        door = scan_item(rt, "main-lobby", item, "staff").compartment
        assert door is not None
        sim.put_item(door)
        assert sim.close_door(door)
        with unit_of_work(rt.sessions) as s:
            note = s.scalars(select(NotificationRow).order_by(NotificationRow.id.desc())).first()
            assert note is not None
            codes.append(note.secrets["code"])
    acs.go_down()
    for code in codes:
        assert pickup_with_code(rt, "main-lobby", code).outcome is PickupOutcome.OPENED_OFFLINE
    acs.come_back()
    offline_loans.replay_waiting(rt)  # the sweeper's ping finds it back
    return _loans(rt)


def _loans(rt: Runtime) -> list[OfflineLoanRow]:
    with unit_of_work(rt.sessions) as s:
        rows = list(s.scalars(select(OfflineLoanRow).order_by(OfflineLoanRow.id)))
        s.expunge_all()
        return rows


def _child(spec: dict[str, Any], loans: list[int], **env: str) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if k != ENV_CRASH_AT}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.offline_sender_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**clean, **env},
    )
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({**spec, "loans": loans}))
    proc.stdin.close()
    return proc


def _exactly_once(rt: Runtime, acs: ReferenceACS, loans: list[OfflineLoanRow]) -> None:
    for loan in loans:
        [sent] = acs.ledger.checkouts(loan.item_barcode)
        assert sent.no_block
        assert sent.transaction_date == loan.picked_up_at.replace(microsecond=0)
    assert [r.state for r in _loans(rt)] == ["recorded"] * len(loans)


@pytest.mark.parametrize(
    "label", ["offline_loans.send_offline_loan", "offline_loans._finish"], ids=["claim", "result"]
)
def test_a_sender_dying_after_a_commit_sends_each_loan_once(
    rt: Runtime, acs: ReferenceACS, spec: dict[str, Any], label: str
) -> None:
    loans = _picked_up_offline(rt, acs)
    ids = [r.id for r in loans]

    crashed = _child(spec, ids, **{ENV_CRASH_AT: label})
    assert crashed.wait(timeout=60) == CRASH_STATUS, crashed.stderr.read()  # type: ignore[union-attr]
    time.sleep(1.2)  # the lease (1 s here) runs out, as the sweeper would find it
    again = _child(spec, ids)
    assert again.wait(timeout=60) == 0, again.stderr.read()  # type: ignore[union-attr]
    offline_loans.replay_waiting(rt)
    for loan_id in ids:
        offline_loans.send_offline_loan(rt, loan_id)

    _exactly_once(rt, acs, loans)


def test_a_sender_killed_after_the_ils_acted_looks_before_sending_again(
    rt: Runtime, acs: ReferenceACS, spec: dict[str, Any]
) -> None:
    loans = _picked_up_offline(rt, acs)
    first = loans[0]
    acs.faults.drop_replies = 1  # the ACS lends the item; its reply never arrives

    proc = _child(spec, [first.id])
    deadline = time.monotonic() + 20
    while not acs.ledger.checkouts(first.item_barcode):
        assert time.monotonic() < deadline, "the checkout never reached the ACS"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    time.sleep(1.2)

    for loan in loans:
        offline_loans.send_offline_loan(rt, loan.id)

    _exactly_once(rt, acs, loans)


# --- the outage: many pickups across two banks while workers are killed ------------------------

OUTAGE_PICKUPS = int(os.environ.get("LOCKERBRIDGE_OFFLINE_PICKUPS", "40"))  # 200: `make faults`
BANKS = (("main-lobby", "MAIN-LOCKER", "lockers-main", "demo-main"),
         ("east-station", "EAST-LOCKER", "lockers-east", "demo-east"))  # fmt: skip


def _outage_catalogue(n: int) -> dict[str, Any]:
    """Patron i waits for item i at bank i % 2; patron "blocked-later" is only a bystander."""
    return {
        "institution": "DEMO",
        "branches": [
            {"code": branch, "name": bank, "locker_bank": True} for bank, branch, *_ in BANKS
        ],
        "accounts": [
            {"user": user, "password": password, "institution": "DEMO", "location": branch}
            for _, branch, user, password in BANKS
        ],
        "patrons": [{"barcode": _patron(i), "pin": "1234"} for i in range(n)]
        + [{"barcode": "23999999999999", "pin": "1234"}],
        "items": [
            {"barcode": _item(i), "title": f"Book {i}", "home": BANKS[i % 2][1]} for i in range(n)
        ],
        "holds": [
            {"id": f"H{i}", "patron": _patron(i), "item": _item(i), "pickup": BANKS[i % 2][1]}
            for i in range(n)
        ],
    }


def _patron(i: int) -> str:
    return f"2301{i:010d}"


def _item(i: int) -> str:
    return f"3901{i:010d}"


def _outage_toml(
    db_url: str, redis_url: str, acs_port: int, n: int, controllers: dict[str, BankController]
) -> str:
    from tests import sandbox

    doors = n // 2 + 1
    banks = "".join(
        f"""
[[banks]]
id = "{bank}"
name = "{bank}"
branch = "{branch}"
ils = "main-ils"
offline_pickup = "codes_and_links"
sip_login = {{ user = "{user}", password = "{password}" }}
driver = {{ kind = "http", controller_url = "{controllers[bank].url}", signing_key = "{_KEY}" }}
compartment_ranges = [{{ first = 1, last = {doors}, size = "M" }},
  {{ first = {doors + 1}, last = {doors + 2}, size = "M", purpose = "return" }}]
"""
        for bank, branch, user, password in BANKS
    )
    return (
        "outbox_lease_seconds = 4\nsweeper_interval_seconds = 1\n"
        + sandbox.service_toml(db_url, redis_url, acs_port, uuid.uuid4().hex * 2, ils_timeout=1.0)
        + '\n[access]\npublic_url = "https://lockers.example"\n'
        + f'\n[[api.tokens]]\nname = "scanner-1"\ntoken = "{STAFF_TOKEN}"\nrole = "staff"\n'
        + f'\n[[api.tokens]]\nname = "kiosk-1"\ntoken = "{KIOSK_TOKEN}"\nrole = "kiosk"\n'
        + banks
    )


_KEY = "offline-pickup-controller-key-0123456789"


class _Bridge:
    """The web server as patrons, staff and the banks' controllers reach it: gunicorn (one
    process, as in production behind one kiosk) at ``url``."""

    def __init__(self, procs: Procs, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.procs = procs
        procs.start("web", gunicorn_argv(port, workers=1, threads=4))
        wait_until(
            lambda: requests.get(self.url + "/healthz", timeout=5).status_code == 200,
            timeout=120,
            what=f"gunicorn to answer ({procs.log('web')[-600:]})",
        )

    def api(self, bank: str, path: str, body: dict[str, str], token: str) -> dict[str, Any]:
        answer = requests.post(
            f"{self.url}/api/v1/banks/{bank}/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token}", "Connection": "close"},
            timeout=30,
        )
        assert answer.status_code == 200, (answer.status_code, answer.text[:300])
        found: dict[str, Any] = answer.json()
        return found

    def load(self, controller: BankController, item: str) -> int:
        """Staff scan the hold at its bank and put it in the door that opens."""
        door = self.api(controller.bank_id, "loading/scan", {"item": item}, STAFF_TOKEN)
        assert door["compartment"] is not None, f"item {item} did not load: {door}"
        controller.load(int(door["compartment"]))
        return int(door["compartment"])

    def pick_up(self, way: str, bank: str, secret: dict[str, str], kiosk: str) -> list[int]:
        """The patron picks up at the bank with the code typed in or the QR code shown (the
        kiosk's API route), or with the link from the message and the number on the locker
        screen (the phone page, which the kiosk's presence screen feeds)."""
        if way == "code":
            return list(
                self.api(bank, "pickup/code", {"code": secret["code"]}, KIOSK_TOKEN)["opened"]
            )
        if way == "qr":
            return list(
                self.api(bank, "pickup/qr", {"token": secret["qr_token"]}, KIOSK_TOKEN)["opened"]
            )
        token = secret["phone_url"].rsplit("/", 1)[1]
        screen = requests.get(
            f"{self.url}/phone/presence/{bank}?format=json",
            headers={KIOSK_HEADER: kiosk},
            timeout=30,
        )
        assert screen.status_code == 200, screen.text[:300]
        with requests.Session() as phone:
            return self._open_from_phone(phone, token, screen.json()["code"])

    def _open_from_phone(self, phone: requests.Session, token: str, number: str) -> list[int]:
        link = phone.get(f"{self.url}/phone/{token}", timeout=30)
        assert link.status_code == 200, link.text[:300]
        answer = phone.post(
            f"{self.url}/phone/{token}/open",
            data={"code": number, "csrf_token": csrf_from(link.text)},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text[:600]
        said = re.search(r"Door ([0-9, ]+) is open\.", answer.text)
        assert said is not None and "recorded as soon as it answers" in answer.text, answer.text
        return [int(d) for d in said.group(1).split(", ")]


@pytest.mark.timeout(600)
def test_pickups_during_an_outage_reach_the_ils_once_in_order_while_workers_die(
    tmp_path: Path,
) -> None:
    """Every pickup goes through gunicorn: code and QR through the kiosk API route, the phone
    link through the phone page with the number from the bank's enrolled kiosk; the doors are
    simulated banks behind real HTTP controllers whose signed events reach the webhook."""
    import random
    import threading

    from bridge.services.access.kiosks import enrol
    from bridge.services.returns import recording
    from bridge.services.staff.accounts import Role
    from bridge.services.sweeper import sweep_outbox
    from bridge.storage.tables.returns import DepositRow
    from bridge.web.staff import queries
    from sip2.acs.catalogue import ItemStatus
    from sip2.acs.catalogue_file import catalogue_from_dict
    from tests.faults.harness import Workers
    from tests.sandbox import Database, RedisServer

    n = OUTAGE_PICKUPS
    rng = random.Random(23)
    redis_server = RedisServer(tmp_path)
    acs = ReferenceACS(catalogue_from_dict(_outage_catalogue(n)), behaviour="koha")
    db = Database("auto", tmp_path, prefix="offline")
    controllers = {
        bank: BankController(bank, range(1, n // 2 + 4), _KEY.encode()) for bank, *_ in BANKS
    }
    procs: Procs | None = None
    workers: Workers | None = None
    stop = threading.Event()
    kills = 0
    try:
        redis_server.start()
        acs.start()
        cfg = tmp_path / "lockerbridge.toml"
        cfg.write_text(_outage_toml(db.url, redis_server.url, acs.address[1], n, controllers))
        from redis import Redis

        rt = assemble(
            Runtime.over(load_settings(cfg), make_engine(db.url), Redis.from_url(redis_server.url))
        )
        sync_banks(rt)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCKERBRIDGE_")}
        env.update(LOCKERBRIDGE_CONFIG=str(cfg), GUNICORN_ACCESSLOG="")
        procs = Procs(tmp_path / "logs", env)
        web = _Bridge(procs, free_port())
        for controller in controllers.values():
            controller.webhook = web.url + "/api/v1/banks/{bank}/controller/events"
        kiosks = {bank: enrol(rt, bank, "Lobby", actor="staff:admin")[1] for bank, *_ in BANKS}
        doors: dict[int, int] = {}

        def load_bank(b: int) -> None:  # staff at each bank at the same time
            for i in range(b, n, 2):
                doors[i] = web.load(controllers[BANKS[b][0]], _item(i))

        loaders = [threading.Thread(target=load_bank, args=(b,)) for b in (0, 1)]
        for loader in loaders:
            loader.start()
        for loader in loaders:
            loader.join(timeout=120)
        assert sorted(doors) == list(range(n)), "not every hold was loaded"
        for controller in controllers.values():
            controller.settle()  # every door's close reached the webhook: the holds are ready
        with unit_of_work(rt.sessions) as s:
            told = {
                note.patron: dict(note.secrets or {})
                for note in s.scalars(
                    select(NotificationRow).where(NotificationRow.kind == "ready_for_pickup")
                )
            }
        secrets = [(BANKS[i % 2][0], doors[i], told[_patron(i)]) for i in range(n)]
        acs.go_down()
        # The workers run through the outage (as they do in production), so they have started
        # up by the time the loans are sent and the kills below land while they send.
        workers = Workers(3, cfg, tmp_path)
        workers.keep_alive()
        for i, (bank, door, secret) in enumerate(secrets):
            way = ("code", "qr", "phone")[i % 3]
            opened = web.pick_up(way, bank, secret, kiosks[bank])
            assert opened == [door], f"pickup {i} by {way} opened {opened}, not {door}"
            controllers[bank].collect(door)
            if i % 5 == 4:  # brought back the same night: its check-in must wait for the loan
                recording.record_deposit(
                    rt,
                    bank_id=bank,
                    compartment=n // 2 + 2,
                    item_barcode=_item(i),
                    deposited_at=rt.clock(),
                )
        for controller in controllers.values():
            controller.settle()
            assert controller.failures == [], controller.failures
        # Meanwhile a desk lent item 0 to someone else: that offline loan will be refused.
        cat = acs.engine.catalogue
        lent = cat.item(_item(0))
        assert lent is not None
        from dataclasses import replace

        cat.put(replace(lent, status=ItemStatus.CHARGED, charged_to="23999999999999"))

        def beat() -> None:
            nonlocal kills
            while not stop.wait(0.3):
                try:
                    sweep_outbox(rt)
                    workers.keep_alive()  # type: ignore[union-attr]
                    if rng.random() < 0.4 and workers.kill_one(rng, 1.5):  # type: ignore[union-attr]
                        kills += 1
                except Exception:  # a killed worker's half-done job: the next beat retries
                    pass

        acs.come_back()
        acs.faults.latency = 0.1  # a slow catalogue: the kills find loans being sent
        for k in range(0, n, 7):
            acs.faults.drop_replies = acs.faults.drop_replies + (1 if k else 0)
        beater = threading.Thread(target=beat, daemon=True)
        beater.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with unit_of_work(rt.sessions) as s:
                open_loans = s.scalar(
                    select(func.count())
                    .select_from(OfflineLoanRow)
                    .where(OfflineLoanRow.state.in_(("waiting", "sending")))
                )
                open_deposits = s.scalar(
                    select(func.count())
                    .select_from(DepositRow)
                    .where(DepositRow.state.in_(("recorded", "checking_in", "waiting_for_ils")))
                )
            if not open_loans and not open_deposits:
                break
            time.sleep(0.5)
        stop.set()
        beater.join(timeout=10)
        workers.stop()

        loans = {r.item_barcode: r for r in _loans(rt)}
        assert len(loans) == n
        problems = []
        for i in range(n):
            item, loan = _item(i), loans[_item(i)]
            checkouts = [e for e in acs.ledger.checkouts(item) if e.patron == _patron(i)]
            if i == 0:
                if loan.state != "refused" or checkouts:
                    problems.append(f"{item}: {loan.state}, {len(checkouts)} checkouts")
                continue
            if loan.state != "recorded" or len(checkouts) != 1:
                problems.append(f"{item}: {loan.state}, {len(checkouts)} checkouts")
                continue
            [sent] = checkouts
            if not sent.no_block or sent.transaction_date != loan.picked_up_at.replace(
                microsecond=0
            ):
                problems.append(f"{item}: sent {sent.transaction_date}, picked {loan.picked_up_at}")
            if i % 5 == 4:
                kinds = [e.action.value for e in acs.ledger.entries(item=item)]
                if kinds != ["checkin", "checkout", "checkin"]:  # load, offline loan, return
                    problems.append(f"{item}: ledger {kinds}")
        assert problems == []
        [refused] = queries.work_lists(rt, Role.STAFF).refused_offline
        assert (refused.item, refused.patron) == (_item(0), _patron(0))
        assert "another patron" in refused.reason
        print(f"{n} offline pickups, {kills} worker kills")
        if n >= 100:
            assert kills >= 1
    finally:
        stop.set()
        if workers is not None:
            workers.stop()
        if procs is not None:
            procs.stop_all()
        for controller in controllers.values():
            controller.close()
        acs.stop()
        redis_server.kill()
        db.drop()
