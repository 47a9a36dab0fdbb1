"""Koha's REST API, for what SIP2 does not tell us: patron contact and hold-shelf dates.

OAuth2 client credentials (``POST /api/v1/oauth/token``); the token is cached until shortly
before it expires and fetched again once if Koha answers 401 (revoked or expired early).

Field names follow Koha's API definitions (``api/v1/swagger/definitions/patron.yaml``,
``hold.yaml``): patrons have ``patron_id``, ``cardnumber``, ``email``, ``phone``,
``mobile``, ``lang``; holds have ``hold_id``, ``patron_id``, ``item_id``,
``pickup_library_id``, ``status`` (one letter), ``waiting_date``, ``expiration_date``.

Errors: unreachable / timeout / 5xx -> IlsUnavailable; bad client credentials or a 401 after
a fresh token, and 403 -> IlsRejected; a reply of the wrong shape -> KohaUnexpectedReply.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import requests

from ils_adapters.base import Contact, IlsError, IlsRejected, IlsUnavailable

TOKEN_PATH = "/api/v1/oauth/token"  # noqa: S105 - a URL path, not a secret
_EXPIRY_MARGIN_S = 30.0  # fetch a new token this long before Koha would expire it
_PAGE_SIZE = 100


class KohaUnexpectedReply(IlsError):
    """Koha answered with something that is not the documented JSON shape."""


class HoldState(StrEnum):
    """Koha's one-letter hold status."""

    PENDING = "pending"  # null: not yet tied to an item
    IN_TRANSIT = "in_transit"  # "T"
    PROCESSING = "processing"  # "P": HoldsNeedProcessingSIP, captured but not yet waiting
    WAITING = "waiting"  # "W": on the hold shelf (in a locker for us)

    @classmethod
    def from_koha(cls, letter: str | None) -> HoldState:
        return {"T": cls.IN_TRANSIT, "P": cls.PROCESSING, "W": cls.WAITING}.get(
            letter or "", cls.PENDING
        )


@dataclass(frozen=True)
class KohaPatron:
    """Personal data: keep only as long as the notice needs it."""

    patron_id: int
    cardnumber: str | None
    email: str | None
    phone: str | None
    language: str | None

    @property
    def contact(self) -> Contact:
        return Contact(email=self.email, phone=self.phone, language=self.language)


@dataclass(frozen=True)
class KohaHold:
    hold_id: int
    patron_id: int
    item_id: str | None
    pickup_library_id: str | None
    state: HoldState
    waiting_date: date | None
    expiration_date: date | None


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value: object) -> date | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError as exc:
        raise KohaUnexpectedReply(f"not a date: {text!r}") from exc


def _patron(raw: Mapping[str, Any]) -> KohaPatron:
    try:
        lang = _text(raw.get("lang"))
        return KohaPatron(
            patron_id=int(raw["patron_id"]),
            cardnumber=_text(raw.get("cardnumber")),
            email=_text(raw.get("email")),
            phone=_text(raw.get("mobile")) or _text(raw.get("phone")),
            # Koha: "default" means the library's default language, i.e. not chosen.
            language=None if lang == "default" else lang,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KohaUnexpectedReply(f"patron without the documented fields: {exc}") from exc


def _hold(raw: Mapping[str, Any]) -> KohaHold:
    try:
        return KohaHold(
            hold_id=int(raw["hold_id"]),
            patron_id=int(raw["patron_id"]),
            item_id=_text(raw.get("item_id")),
            pickup_library_id=_text(raw.get("pickup_library_id")),
            state=HoldState.from_koha(_text(raw.get("status"))),
            waiting_date=_date(raw.get("waiting_date")),
            expiration_date=_date(raw.get("expiration_date")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise KohaUnexpectedReply(f"hold without the documented fields: {exc}") from exc


class KohaRestClient:
    """Read-only access to one Koha instance. Thread-safe; timeouts always on.

    ``clock`` is a monotonic seconds source, swappable in tests.
    """

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        *,
        timeout: tuple[float, float] = (3.05, 10.0),
        session: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._client_secret = client_secret
        self.timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self._lock = threading.Lock()

    # --- what the flows ask ---------------------------------------------------------------

    def find_patron(self, cardnumber: str) -> KohaPatron | None:
        """The patron with this card number, or None."""
        found = self._get_json("/api/v1/patrons", {"q": json.dumps({"cardnumber": cardnumber})})
        if not isinstance(found, list):
            raise KohaUnexpectedReply("patron search did not return a list")
        return _patron(found[0]) if found else None

    def patron(self, patron_id: int) -> KohaPatron | None:
        found = self._get_json(f"/api/v1/patrons/{int(patron_id)}", None, missing_ok=True)
        if found is None:
            return None
        if not isinstance(found, dict):
            raise KohaUnexpectedReply("patron is not an object")
        return _patron(found)

    def patron_contact(self, cardnumber: str) -> Contact | None:
        patron = self.find_patron(cardnumber)
        return patron.contact if patron else None

    def holds_waiting_at(self, pickup_library_id: str) -> list[KohaHold]:
        """Holds on the hold shelf (status W) whose pickup library is this one (a bank)."""
        query = {"pickup_library_id": pickup_library_id, "status": "W"}
        return list(self._holds(query))

    def holds_for_item(self, item_id: str | int) -> list[KohaHold]:
        """Holds tied to one item (Koha's internal item id), any state."""
        return list(self._holds({"item_id": int(item_id)}))

    def hold_shelf_expiry(self, item_id: str | int) -> date | None:
        """The date the waiting hold on this item expires, or None if nothing waits."""
        for hold in self.holds_for_item(item_id):
            if hold.state is HoldState.WAITING:
                return hold.expiration_date
        return None

    # --- HTTP -----------------------------------------------------------------------------

    def _holds(self, query: Mapping[str, object]) -> Iterator[KohaHold]:
        page = 1
        while True:
            params = {"q": json.dumps(query), "_page": str(page), "_per_page": str(_PAGE_SIZE)}
            batch = self._get_json("/api/v1/holds", params)
            if not isinstance(batch, list):
                raise KohaUnexpectedReply("hold search did not return a list")
            yield from (_hold(h) for h in batch)
            if len(batch) < _PAGE_SIZE:
                return
            page += 1

    def _get_json(
        self, path: str, params: Mapping[str, str] | None, *, missing_ok: bool = False
    ) -> Any:
        for attempt in (1, 2):
            response = self._send("GET", path, params=params, token=self._bearer())
            if response.status_code == 401 and attempt == 1:
                self._forget_token()  # revoked or expired early: one fresh token, one retry
                continue
            if response.status_code == 404 and missing_ok:
                return None
            self._raise_for_status(response, path)
            try:
                return response.json()
            except ValueError as exc:
                raise KohaUnexpectedReply(f"{path} did not answer JSON") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _bearer(self) -> str:
        with self._lock:
            if self._token is not None and self._clock() < self._token_expires:
                return self._token
            response = self._send(
                "POST",
                TOKEN_PATH,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
            )
            if response.status_code in (400, 401, 403):
                raise IlsRejected("Koha refused the API client credentials")
            self._raise_for_status(response, TOKEN_PATH)
            try:
                body = response.json()
                token = str(body["access_token"])
                lifetime = float(body.get("expires_in", 3600))
            except (ValueError, KeyError, TypeError) as exc:
                raise KohaUnexpectedReply("token reply without access_token") from exc
            self._token = token
            self._token_expires = self._clock() + max(0.0, lifetime - _EXPIRY_MARGIN_S)
            return token

    def _forget_token(self) -> None:
        with self._lock:
            self._token = None

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        token: str | None = None,
    ) -> requests.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            return self._session.request(
                method,
                self.base_url + path,
                params=params,
                data=data,
                headers=headers,
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise IlsUnavailable(f"Koha REST API not reachable: {type(exc).__name__}") from exc

    @staticmethod
    def _raise_for_status(response: requests.Response, path: str) -> None:
        status = response.status_code
        if status >= 500:
            raise IlsUnavailable(f"Koha answered HTTP {status} for {path}")
        if status in (401, 403):
            raise IlsRejected(f"Koha refused access to {path} (HTTP {status}); check permissions")
        if status >= 400:
            raise KohaUnexpectedReply(f"Koha answered HTTP {status} for {path}")
