"""The kiosk and controller JSON API over Flask's test client, with the in-memory ILS and the
simulated bank."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import load_settings
from bridge.runtime import Runtime
from bridge.web.app import create_app
from ils_adapters.memory import MemoryIls
from lockers.drivers.base import DoorClosed, DoorOpened
from lockers.drivers.wire import encode_events
from lockers.signing import Signer
from tests.flows.conftest import messages, sim, state_of
from tests.support.clock import Clock
from tests.support.runtime import flow_config, make_runtime

KIOSK = "kiosk-token-0123456789abcdefghij"
STAFF = "staff-token-0123456789abcdefghij"
EAST_ONLY = "east-token-0123456789abcdefghijk"
SIGNING_KEY = "controller-key-0123456789abcdef"


@pytest.fixture
def fake() -> MemoryIls:
    ils = MemoryIls()
    ils.add_patron("P1", "1234")
    ils.add_item("B1", home="MAIN", title="Book 1")
    return ils


def api_config(tmp_path: Path) -> dict[str, Any]:
    cfg = flow_config(tmp_path)
    cfg["api"] = {
        "tokens": [
            {"name": "lobby-kiosk", "token": KIOSK, "role": "kiosk"},
            {"name": "ann", "token": STAFF, "role": "staff"},
            {"name": "east-kiosk", "token": EAST_ONLY, "role": "kiosk", "banks": ["east-station"]},
        ]
    }
    return cfg


@pytest.fixture
def api_rt(
    tmp_path: Path, sqlite_engine: Any, redis_conn: Any, fake: MemoryIls
) -> Iterator[Runtime]:
    clock = Clock()
    runtime = make_runtime(
        load_settings(None, **api_config(tmp_path)), sqlite_engine, redis_conn, clock, fake
    )
    yield runtime


@pytest.fixture
def api(api_rt: Runtime) -> FlaskClient:
    app = create_app(api_rt.settings, api_rt)
    app.config["TESTING"] = True
    return app.test_client()


def post(api: FlaskClient, path: str, body: Any, token: str | None = KIOSK) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return api.post(f"/api/v1{path}", json=body, headers=headers)


def test_staff_scan_opens_a_door_and_a_kiosk_code_pickup_opens_it_again(
    api: FlaskClient, api_rt: Runtime, fake: MemoryIls
) -> None:
    fake.place_hold("P1", "B1", pickup_location="MAIN-LOCKER")

    scanned = post(api, "/banks/main-lobby/loading/scan", {"item": "B1"}, STAFF)

    assert scanned.status_code == 200
    assert scanned.json["outcome"] == "door_open" and scanned.json["compartment"] == 1
    sim(api_rt).put_item(1)
    sim(api_rt).close_door(1)
    code = messages(api_rt)[0].secrets["code"]

    picked = post(api, "/banks/main-lobby/pickup/code", {"code": code})

    assert picked.status_code == 200 and picked.json["opened"] == [1]


def test_answers_carry_the_outcome_code_and_the_kiosks_english_words(
    api: FlaskClient, api_rt: Runtime, fake: MemoryIls
) -> None:
    fake.add_item("DVD1", home="MAIN", title="A film", fee=Decimal("1.50"))
    fake.place_hold("P1", "DVD1", pickup_location="MAIN-LOCKER")
    assert post(api, "/banks/main-lobby/loading/scan", {"item": "DVD1"}, STAFF).status_code == 200
    sim(api_rt).put_item(1)
    sim(api_rt).close_door(1)

    wrong = post(api, "/banks/main-lobby/pickup/code", {"code": "000000"})
    charged = post(api, "/banks/main-lobby/pickup/card", {"card": "P1", "pin": "1234"})

    assert wrong.json["outcome"] == "denied"
    assert wrong.json["message"].startswith("This code did not open a locker.")
    assert charged.json["outcome"] == "refused"
    [item] = charged.json["refused"]
    assert (item["item"], item["kind"], item["fee"]) == ("DVD1", "fee", "1.50")
    assert "1.50" in item["reason"] and "1.50" in charged.json["message"]


def test_a_kiosk_token_may_not_load_items(api: FlaskClient) -> None:
    answer = post(api, "/banks/main-lobby/loading/scan", {"item": "B1"}, KIOSK)
    assert answer.status_code == 403 and answer.json["error"] == "forbidden"


def test_calls_without_a_token_are_refused(api: FlaskClient) -> None:
    answer = post(api, "/banks/main-lobby/pickup/code", {"code": "123456"}, None)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_limited_to_one_bank_is_refused_elsewhere(api: FlaskClient) -> None:
    answer = post(api, "/banks/main-lobby/pickup/code", {"code": "123456"}, EAST_ONLY)
    assert answer.status_code == 403


def test_invalid_bodies_get_a_clear_400_naming_the_field(api: FlaskClient) -> None:
    answer = post(api, "/banks/main-lobby/pickup/code", {"code": "12ab"})
    assert answer.status_code == 400
    assert answer.json["details"][0]["field"] == "code"


def test_an_unknown_bank_is_404(api: FlaskClient) -> None:
    assert post(api, "/banks/nowhere/pickup/code", {"code": "123456"}).status_code == 404


def test_a_non_json_body_is_415(api: FlaskClient) -> None:
    answer = api.post(
        "/api/v1/banks/main-lobby/pickup/code",
        data="code=123456",
        headers={"Authorization": f"Bearer {KIOSK}"},
    )
    assert answer.status_code == 415


def test_wrong_pins_lock_the_card_with_429_and_retry_after(api: FlaskClient) -> None:
    for _ in range(5):
        wrong = post(api, "/banks/main-lobby/pickup/card", {"card": "P1", "pin": "0"})
        assert wrong.json["outcome"] == "denied"
    locked = post(api, "/banks/main-lobby/pickup/card", {"card": "P1", "pin": "1234"})
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_the_ils_being_down_is_503(api: FlaskClient, fake: MemoryIls) -> None:
    fake.go_offline()
    answer = post(api, "/banks/main-lobby/pickup/card", {"card": "P1", "pin": "1234"})
    assert answer.status_code == 503 and answer.json["outcome"] == "ils_unavailable"


def test_the_openapi_document_describes_every_operation(api: FlaskClient) -> None:
    spec = api.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.1")
    assert "/banks/{bank_id}/pickup/card" in spec["paths"]
    assert "CardPickup" in spec["components"]["schemas"]


def _signed_events(api_rt: Runtime, events: list[Any], key: str = SIGNING_KEY) -> dict[str, str]:
    return (
        Signer("main-lobby", key.encode(), api_rt.clock)
        .sign("evt", encode_events(events))
        .headers()
    )


@pytest.fixture
def http_rt(tmp_path: Path, sqlite_engine: Any, redis_conn: Any, fake: MemoryIls) -> Runtime:
    cfg = api_config(tmp_path)
    cfg["banks"][0]["driver"] = {
        "kind": "http",
        "controller_url": "http://127.0.0.1:9/",
        "signing_key": SIGNING_KEY,
    }
    return make_runtime(load_settings(None, **cfg), sqlite_engine, redis_conn, Clock(), fake)


def test_a_signed_controller_event_is_applied_and_a_replay_is_401(http_rt: Runtime) -> None:
    api = create_app(http_rt.settings, http_rt).test_client()
    body = encode_events([DoorClosed("main-lobby", 3, http_rt.clock())])
    headers = Signer("main-lobby", SIGNING_KEY.encode(), http_rt.clock).sign("evt", body).headers()
    first = api.post("/api/v1/banks/main-lobby/controller/events", data=body, headers=headers)
    replay = api.post("/api/v1/banks/main-lobby/controller/events", data=body, headers=headers)
    forged = api.post(
        "/api/v1/banks/main-lobby/controller/events",
        data=body,
        headers=Signer("main-lobby", b"wrong-key-0123456789", http_rt.clock)
        .sign("evt", body)
        .headers(),
    )

    assert first.status_code == 200 and first.json == {"accepted": 1}
    assert replay.status_code == 401 and "Replayed" in replay.json["message"]
    assert forged.status_code == 401
    assert state_of(http_rt, 3) == "free"
    from sqlalchemy import select

    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import AuditEventRow

    with unit_of_work(http_rt.sessions) as s:
        rejected = s.scalars(
            select(AuditEventRow.detail).where(AuditEventRow.kind == "controller_message_rejected")
        ).all()
    assert [d["reason"] for d in rejected] == ["ReplayedMessage", "ForgedMessage"]
    assert json.dumps(rejected).find(SIGNING_KEY) == -1


def test_a_door_event_resent_after_a_later_event_of_that_door_changes_nothing(
    http_rt: Runtime,
) -> None:
    """A controller resends an event until it sees our answer, so a resend may arrive after the
    door's next event: the door must not be shown open again (nor closed while a patron has it
    open), and "door left open" must not be raised for a shut door."""
    from sqlalchemy import select

    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import CompartmentRow

    api = create_app(http_rt.settings, http_rt).test_client()
    clock = http_rt.clock

    def send(event: Any) -> None:
        reply = api.post(
            "/api/v1/banks/main-lobby/controller/events",
            data=encode_events([event]),
            headers=_signed_events(http_rt, [event]),
        )
        assert reply.status_code == 200, reply.json

    def door() -> tuple[bool, Any]:
        with unit_of_work(http_rt.sessions) as s:
            row = s.scalars(
                select(CompartmentRow).where(
                    CompartmentRow.bank_id == "main-lobby", CompartmentRow.number == 3
                )
            ).one()
            return row.door_open, row.door_opened_at

    opened = DoorOpened("main-lobby", 3, clock())
    send(opened)
    clock.advance(seconds=20)  # type: ignore[attr-defined]
    closed = DoorClosed("main-lobby", 3, clock())
    send(closed)
    send(opened)  # the first answer was lost: the open comes again, after the close
    assert door() == (False, None)

    clock.advance(seconds=60)  # type: ignore[attr-defined]
    reopened = DoorOpened("main-lobby", 3, clock())
    send(reopened)
    send(closed)  # an old close resent while the door is open again
    assert door() == (True, reopened.at)


# --- unauthenticated rejections reach the audit log once per source and minute ----------------


def _rejected(rt: Runtime) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from bridge.storage.db import unit_of_work
    from bridge.storage.tables.core import AuditEventRow

    with unit_of_work(rt.sessions) as s:
        return list(
            s.scalars(
                select(AuditEventRow.detail).where(
                    AuditEventRow.kind == "controller_message_rejected"
                )
            )
        )


def test_forged_controller_messages_are_audited_once_per_minute_with_the_count(
    http_rt: Runtime,
) -> None:
    api = create_app(http_rt.settings, http_rt).test_client()

    def forge() -> int:
        body = encode_events([DoorClosed("main-lobby", 3, http_rt.clock())])
        headers = Signer("main-lobby", b"wrong-key-0123456789", http_rt.clock).sign("evt", body)
        return api.post(
            "/api/v1/banks/main-lobby/controller/events", data=body, headers=headers.headers()
        ).status_code

    assert [forge() for _ in range(30)] == [401] * 30
    assert len(_rejected(http_rt)) == 1
    http_rt.clock.advance(seconds=60)  # type: ignore[attr-defined]
    assert forge() == 401
    rows = _rejected(http_rt)
    assert len(rows) == 2 and rows[1]["previous_minute"] == 30
