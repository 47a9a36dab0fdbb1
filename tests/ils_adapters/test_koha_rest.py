from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from ils_adapters.base import Contact, IlsRejected, IlsUnavailable
from ils_adapters.koha_rest import HoldState, KohaRestClient, KohaUnexpectedReply
from tests.ils_adapters.httpfake import Answer, FakeHttp, Seen, serve

PATRON = {
    "patron_id": 51,
    "cardnumber": "23529000035676",
    "surname": "Reader",
    "firstname": "Ada",
    "email": "ada@example.org",
    "phone": "555-0100",
    "mobile": None,
    "lang": "fr-FR",
    "library_id": "MAIN",
    "category_id": "PT",
}


def _hold(hold_id: int, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "hold_id": hold_id,
        "patron_id": 51,
        "biblio_id": 7,
        "item_id": "301",
        "pickup_library_id": "LOCKER1",
        "status": "W",
        "waiting_date": "2024-05-06",
        "expiration_date": "2024-05-13",
        "hold_date": "2024-05-01",
        "priority": 0,
        "suspended": False,
    }
    return base | overrides


@dataclass
class FakeKoha:
    """Answers like Koha's REST API, with tokens that can be revoked."""

    holds: list[dict[str, object]] = field(default_factory=list)
    issued: int = 0
    valid: set[str] = field(default_factory=set)
    fail_with: int | None = None
    secret: str = "s3cret"

    def __call__(self, seen: Seen) -> Answer:
        url = urlsplit(seen.path)
        if self.fail_with:
            return Answer(self.fail_with, b"{}", "application/json")
        if url.path == "/api/v1/oauth/token":
            form = parse_qs(seen.body.decode())
            if form.get("grant_type") != ["client_credentials"] or form.get("client_secret") != [
                self.secret
            ]:
                return _json(400, {"error": "unauthorized_client"})
            self.issued += 1
            token = f"t{self.issued}"
            self.valid.add(token)
            return _json(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})
        token = seen.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self.valid:
            return _json(401, {"error": "Token expired"})
        query = parse_qs(url.query)
        q = json.loads(query["q"][0]) if "q" in query else {}
        if url.path == "/api/v1/patrons":
            return _json(200, [PATRON] if q == {"cardnumber": PATRON["cardnumber"]} else [])
        if url.path == "/api/v1/patrons/51":
            return _json(200, PATRON)
        if url.path.startswith("/api/v1/patrons/"):
            return _json(404, {"error": "Patron not found"})
        if url.path == "/api/v1/holds":
            found = [h for h in self.holds if all(h.get(k) == v for k, v in q.items())]
            page, per = int(query["_page"][0]), int(query["_per_page"][0])
            return _json(200, found[(page - 1) * per : page * per])
        return _json(404, {"error": "no route"})


def _json(status: int, body: object) -> Answer:
    return Answer(status, json.dumps(body).encode(), "application/json")


@pytest.fixture
def koha() -> FakeKoha:
    return FakeKoha(
        holds=[
            _hold(1),
            _hold(2, item_id="302", status="T", waiting_date=None, expiration_date=None),
        ]
    )


@pytest.fixture
def server(koha: FakeKoha) -> Iterator[FakeHttp]:
    with serve(koha) as fake:
        yield fake


def _client(url: str, secret: str = "s3cret") -> KohaRestClient:
    return KohaRestClient(url + "/", "lockerbridge", secret, timeout=(1.0, 1.0))


def test_patron_contact_is_found_by_card_number(server: FakeHttp) -> None:
    contact = _client(server.url).patron_contact("23529000035676")

    assert contact == Contact(email="ada@example.org", phone="555-0100", language="fr-FR")


def test_an_unknown_card_number_has_no_contact(server: FakeHttp) -> None:
    assert _client(server.url).patron_contact("000") is None


def test_a_patron_is_read_by_id_and_a_missing_one_is_none(server: FakeHttp) -> None:
    client = _client(server.url)

    assert client.patron(51) is not None and client.patron(52) is None


def test_the_token_is_fetched_once_and_reused(server: FakeHttp, koha: FakeKoha) -> None:
    client = _client(server.url)

    client.patron_contact("23529000035676")
    client.patron_contact("23529000035676")

    assert koha.issued == 1


def test_a_revoked_token_is_replaced_once_transparently(server: FakeHttp, koha: FakeKoha) -> None:
    client = _client(server.url)
    client.patron_contact("23529000035676")
    koha.valid.clear()  # Koha expired the token early

    assert client.patron_contact("23529000035676") is not None
    assert koha.issued == 2


def test_an_expired_token_is_renewed_before_use(server: FakeHttp, koha: FakeKoha) -> None:
    now = [0.0]
    client = KohaRestClient(server.url, "lockerbridge", "s3cret", clock=lambda: now[0])
    client.patron_contact("23529000035676")
    now[0] = 3600.0

    client.patron_contact("23529000035676")

    assert koha.issued == 2


def test_wrong_client_credentials_are_a_rejection(server: FakeHttp) -> None:
    with pytest.raises(IlsRejected):
        _client(server.url, secret="wrong").patron_contact("23529000035676")


def test_holds_waiting_at_a_bank_carry_the_hold_shelf_expiry(server: FakeHttp) -> None:
    holds = _client(server.url).holds_waiting_at("LOCKER1")

    assert [(h.hold_id, h.state, h.expiration_date) for h in holds] == [
        (1, HoldState.WAITING, date(2024, 5, 13))
    ]


def test_all_pages_of_holds_are_read(server: FakeHttp, koha: FakeKoha) -> None:
    koha.holds = [_hold(i, item_id=str(1000 + i)) for i in range(1, 251)]

    assert len(_client(server.url).holds_waiting_at("LOCKER1")) == 250


def test_hold_shelf_expiry_is_read_per_item(server: FakeHttp, koha: FakeKoha) -> None:
    koha.holds = [_hold(1, item_id=301), _hold(2, item_id=302, status="T", expiration_date=None)]
    client = _client(server.url)

    assert client.hold_shelf_expiry(301) == date(2024, 5, 13)
    assert client.hold_shelf_expiry(302) is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_means_koha_is_unavailable(koha: FakeKoha, status: int) -> None:
    koha.fail_with = status
    with serve(koha) as fake, pytest.raises(IlsUnavailable):
        _client(fake.url).patron_contact("23529000035676")


def test_an_unreachable_koha_is_unavailable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(IlsUnavailable):
        _client(f"http://127.0.0.1:{port}").patron_contact("1")


def test_a_reply_of_the_wrong_shape_is_reported_as_such() -> None:
    def odd(seen: Seen) -> Answer:
        if "oauth" in seen.path:
            return _json(200, {"access_token": "t", "expires_in": 60})
        return _json(200, {"not": "a list"})

    with serve(odd) as fake, pytest.raises(KohaUnexpectedReply):
        _client(fake.url).patron_contact("1")
