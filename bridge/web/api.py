"""The JSON API for kiosks and controllers, under ``/api/v1`` (OpenAPI at ``/openapi.json``).

Every operation is one row of :data:`OPERATIONS`: its path, its request and response models
(pydantic, so the OpenAPI document is generated from the same models that validate), who may
call it, and the handler, which calls one service function. Errors are JSON
``{"error", "message", "details"}`` with a 4xx status that says whose move it is.

Who may call:
- kiosks and staff scanners: ``Authorization: Bearer <token>`` from ``settings.api.tokens``
  (role ``kiosk`` for patron actions, ``staff`` also for loading; optionally limited to some
  banks); staff signed in to the staff pages may scan too (session cookie + CSRF token);
- HTTP controllers: the webhook carries the ``X-Lockerbridge-*`` HMAC headers
  (``lockers.signing``); forged or replayed calls get 401 and are audited.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bridge.config import ApiToken
from bridge.runtime import Runtime
from bridge.services.controllers import Rejected, accept_webhook
from bridge.services.equipment import BorrowResult, borrow_equipment
from bridge.services.loading import ScanOutcome, scan_item
from bridge.services.pickup import (
    PickupResult,
    pickup_with_card,
    pickup_with_code,
    pickup_with_qr,
)
from bridge.services.return_doors import open_return_door
from bridge.web import security
from bridge.web.branding import Brand, brand_for
from bridge.web.kiosk import words
from bridge.web.staff.scan_words import scan_message

PREFIX = "/api/v1"
bp = Blueprint("api", __name__, url_prefix=PREFIX)

BANK_ID = r"^[a-z0-9][a-z0-9-]{0,62}$"
BARCODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- requests -----------------------------------------------------------------------------


class CardPickup(_In):
    card: str = Field(pattern=BARCODE, description="library card number (patron barcode)")
    pin: str = Field(min_length=1, max_length=32, description="sent to the ILS only")
    fee_acknowledged: bool = False


class CodePickup(_In):
    code: str = Field(pattern=r"^[0-9]{6,12}$", description="typed pickup code")
    fee_acknowledged: bool = False


class QrPickup(_In):
    token: str = Field(pattern=r"^[A-Za-z0-9_-]{16,128}$", description="what the QR code holds")
    fee_acknowledged: bool = False


class Scan(_In):
    item: str = Field(pattern=BARCODE, description="item barcode")
    size: Literal["S", "M", "L", "XL"] | None = None


class Borrow(_In):
    card: str = Field(pattern=BARCODE)
    pin: str = Field(min_length=1, max_length=32)
    item_or_category: str = Field(pattern=BARCODE, description="an item barcode or a category")
    fee_acknowledged: bool = False


class Deposit(_In):
    item: str = Field(pattern=BARCODE)


# --- responses ----------------------------------------------------------------------------


class RefusedItem(BaseModel):
    item: str
    title: str | None
    compartment: int
    reason: str  # in English, as the kiosk would say it
    fee: str | None
    kind: str  # why, as a code (bridge.services.pickup.RefusalKind)
    ils_says: str | None  # ils_refused: the library system's own words, if it gave any


class PickupAnswer(BaseModel):
    outcome: str
    message: str
    opened: list[int]
    refused: list[RefusedItem]
    locked_until: datetime | None


class ScanAnswer(BaseModel):
    outcome: str
    message: str
    item: str
    compartment: int | None
    destination: str | None
    destination_bank: str | None
    retry: bool


class BorrowAnswer(BaseModel):
    outcome: str
    message: str
    item: str | None
    compartment: int | None
    fee: str | None
    due: datetime | None
    locked_until: datetime | None


class DepositAnswer(BaseModel):
    outcome: Literal["door_open", "full", "door_failed"]
    message: str
    compartment: int | None


class EventsAccepted(BaseModel):
    accepted: int


class ApiError(BaseModel):
    error: str
    message: str
    details: list[dict[str, Any]] = []


# --- plumbing -----------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, status: int, error: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message
        self.details = details or []


@dataclass(frozen=True)
class Caller:
    name: str
    role: str  # "kiosk", "staff", "controller"


Handler = Callable[[Runtime, str, Any, Caller], tuple[int, BaseModel]]


@dataclass(frozen=True)
class Operation:
    rule: str
    op_id: str
    summary: str
    body: type[BaseModel] | None
    answer: type[BaseModel]
    role: Literal["kiosk", "staff", "controller"]
    statuses: dict[int, str]
    handler: Handler


def _runtime() -> Runtime:
    rt: Runtime = current_app.extensions["lockerbridge"]
    return rt


def _token(rt: Runtime) -> ApiToken | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    given = header[7:].strip().encode()
    found = None
    for token in rt.settings.api.tokens:
        if hmac.compare_digest(token.token.encode(), given):
            found = token
    return found


def _caller(rt: Runtime, op: Operation, bank_id: str) -> Caller:
    if op.role == "controller":
        return Caller("controller", "controller")
    token = _token(rt)
    if token is not None:
        if op.role == "staff" and token.role != "staff":
            raise _Fail(403, "forbidden", "This token may not load items; use a staff token.")
        if token.banks and bank_id not in token.banks:
            raise _Fail(403, "forbidden", "This token is not valid for this bank.")
        return Caller(f"{token.role}:{token.name}", token.role)
    if op.role == "staff":
        staff = _staff_session()
        if staff is not None:
            return Caller(f"staff:{staff}", "staff")
    raise _Fail(401, "unauthorized", "A valid API token is required (Authorization: Bearer).")


def _staff_session() -> str | None:
    """The signed-in staff user (cookie session), with the CSRF token checked."""
    if "lockerbridge_session" not in request.cookies:
        return None
    user = security.signed_in_user()
    if user is None:
        return None
    try:
        security.csrf.protect()
    except Exception as exc:  # a session without its CSRF token must not act
        raise _Fail(403, "csrf", "Missing or wrong CSRF token.") from exc
    return str(getattr(user, "username", "staff"))


def _body(op: Operation) -> Any:
    if op.body is None:
        return None
    if not request.is_json:
        raise _Fail(415, "unsupported_media_type", "Send the body as application/json.")
    raw = request.get_data(cache=True)
    try:
        return op.body.model_validate_json(raw)
    except ValidationError as exc:
        details = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise _Fail(400, "invalid_request", "The request body is not valid.", details) from exc


def _error(status: int, error: str, message: str, details: Any = None) -> Response:
    response = jsonify(ApiError(error=error, message=message, details=details or []).model_dump())
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="lockerbridge"'
    return response


def _view(op: Operation) -> Callable[..., Response]:
    def view(bank_id: str) -> Response:
        rt = _runtime()
        try:
            if not _bank_known(rt, bank_id):
                raise _Fail(404, "unknown_bank", f"There is no locker bank {bank_id!r}.")
            caller = _caller(rt, op, bank_id)
            body = _body(op)
            status, answer = op.handler(rt, bank_id, body, caller)
        except _Fail as fail:
            return _error(fail.status, fail.error, fail.message, fail.details)
        response = Response(answer.model_dump_json(), status=status, mimetype="application/json")
        if isinstance(answer, PickupAnswer | BorrowAnswer) and answer.locked_until:
            wait = max(1, int((answer.locked_until - rt.clock()).total_seconds()))
            response.headers["Retry-After"] = str(wait)
        response.headers["Cache-Control"] = "no-store"
        return response

    view.__name__ = op.op_id
    return view


def _bank_known(rt: Runtime, bank_id: str) -> bool:
    return any(b.id == bank_id for b in rt.settings.banks)


# --- handlers -----------------------------------------------------------------------------


def _pickup_status(outcome: str) -> int:
    return {"locked_out": 429, "ils_unavailable": 503, "card_needs_ils": 503}.get(outcome, 200)


# The API's ``message`` is what the bank's kiosk would say, in English: the words for an
# outcome live in one place (bridge.web.kiosk.words), whoever shows them.
API_LANGUAGE = "en"


def _brand(rt: Runtime, bank_id: str) -> tuple[Brand, str]:
    bank = rt.settings.bank(bank_id)
    return brand_for(rt.settings, bank), bank.timezone


def _pickup_answer(
    rt: Runtime, bank_id: str, result: PickupResult, way: str
) -> tuple[int, BaseModel]:
    brand, zone = _brand(rt, bank_id)
    answer = PickupAnswer(
        outcome=result.outcome.value,
        message=words.pickup_headline(API_LANGUAGE, result, zone, brand, way),
        opened=list(result.opened),
        refused=[
            RefusedItem(
                item=r.item,
                title=r.title,
                compartment=r.compartment,
                reason=words.refusal_line(API_LANGUAGE, r, brand).why,
                fee=r.fee,
                kind=r.kind.value,
                ils_says=r.ils_says,
            )
            for r in result.refused
        ],
        locked_until=result.locked_until,
    )
    return _pickup_status(answer.outcome), answer


def pickup_card(rt: Runtime, bank_id: str, body: CardPickup, who: Caller) -> tuple[int, BaseModel]:
    result = pickup_with_card(
        rt, bank_id, body.card, body.pin, kiosk=who.name, fee_acknowledged=body.fee_acknowledged
    )
    return _pickup_answer(rt, bank_id, result, "card")


def pickup_code(rt: Runtime, bank_id: str, body: CodePickup, who: Caller) -> tuple[int, BaseModel]:
    result = pickup_with_code(
        rt, bank_id, body.code, kiosk=who.name, fee_acknowledged=body.fee_acknowledged
    )
    return _pickup_answer(rt, bank_id, result, "code")


def pickup_qr(rt: Runtime, bank_id: str, body: QrPickup, who: Caller) -> tuple[int, BaseModel]:
    result = pickup_with_qr(
        rt, bank_id, body.token, kiosk=who.name, fee_acknowledged=body.fee_acknowledged
    )
    return _pickup_answer(rt, bank_id, result, "qr")


def scan(rt: Runtime, bank_id: str, body: Scan, who: Caller) -> tuple[int, BaseModel]:
    result = scan_item(rt, bank_id, body.item, who.name, size=body.size)
    status = 503 if result.outcome is ScanOutcome.ILS_UNAVAILABLE else 200
    return status, ScanAnswer(
        outcome=result.outcome.value,
        message=scan_message(rt.settings, result),
        item=result.item,
        compartment=result.compartment,
        destination=result.destination,
        destination_bank=result.destination_bank,
        retry=result.retry,
    )


def borrow(rt: Runtime, bank_id: str, body: Borrow, who: Caller) -> tuple[int, BaseModel]:
    result = borrow_equipment(
        rt,
        bank_id,
        body.card,
        body.pin,
        body.item_or_category,
        body.fee_acknowledged,
        kiosk=who.name,
    )
    answer = BorrowAnswer(
        outcome=result.outcome.value,
        message=_borrow_message(rt, bank_id, result),
        item=result.item,
        compartment=result.compartment,
        fee=result.fee,
        due=result.due,
        locked_until=result.locked_until,
    )
    return _pickup_status(answer.outcome), answer


def _borrow_message(rt: Runtime, bank_id: str, result: BorrowResult) -> str:
    brand, zone = _brand(rt, bank_id)
    headline = words.borrow_headline(API_LANGUAGE, result, zone, brand)
    detail = words.borrow_detail(API_LANGUAGE, result, brand)
    return f"{headline} {detail}" if detail else headline


def deposit(rt: Runtime, bank_id: str, body: Deposit, who: Caller) -> tuple[int, BaseModel]:
    door = open_return_door(rt, bank_id, body.item)
    brand, _ = _brand(rt, bank_id)
    if door.opened is not None:
        return 200, DepositAnswer(
            outcome="door_open",
            compartment=door.opened,
            message=words.say(API_LANGUAGE, "return_opened", brand, door=door.opened),
        )
    if door.full:
        return 200, DepositAnswer(
            outcome="full",
            compartment=None,
            message=words.say(API_LANGUAGE, "return_full", brand),
        )
    return 200, DepositAnswer(
        outcome="door_failed",
        compartment=None,
        message=words.say(API_LANGUAGE, "return_door_failed", brand),
    )


def controller_events(rt: Runtime, bank_id: str, body: None, who: Caller) -> tuple[int, BaseModel]:
    try:
        events = accept_webhook(rt, bank_id, dict(request.headers), request.get_data())
    except Rejected as exc:
        raise _Fail(401, "rejected", f"Controller message rejected ({exc.reason}).") from exc
    return 200, EventsAccepted(accepted=len(events))


_COMMON = {
    400: "invalid request",
    401: "no valid credentials",
    403: "not allowed",
    404: "unknown bank",
    415: "body is not JSON",
}
OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "/banks/<bank_id>/pickup/card",
        "pickupByCard",
        "Patron pickup with library card and PIN",
        CardPickup,
        PickupAnswer,
        "kiosk",
        {
            200: "what happened (see outcome)",
            429: "locked out after wrong attempts",
            503: "the ILS is not answering",
        },
        pickup_card,
    ),
    Operation(
        "/banks/<bank_id>/pickup/code",
        "pickupByCode",
        "Patron pickup with a typed code",
        CodePickup,
        PickupAnswer,
        "kiosk",
        {200: "what happened (see outcome)", 429: "locked out", 503: "ILS down"},
        pickup_code,
    ),
    Operation(
        "/banks/<bank_id>/pickup/qr",
        "pickupByQr",
        "Patron pickup with a QR token",
        QrPickup,
        PickupAnswer,
        "kiosk",
        {200: "what happened (see outcome)", 429: "locked out", 503: "ILS down"},
        pickup_qr,
    ),
    Operation(
        "/banks/<bank_id>/loading/scan",
        "scanForLoading",
        "Staff scan an item to load it into the bank",
        Scan,
        ScanAnswer,
        "staff",
        {200: "a door opened, or what to do instead", 503: "ILS down"},
        scan,
    ),
    Operation(
        "/banks/<bank_id>/equipment/borrow",
        "borrowEquipment",
        "Patron borrows equipment with card and PIN",
        Borrow,
        BorrowAnswer,
        "kiosk",
        {200: "what happened (see outcome)", 429: "locked out", 503: "ILS down"},
        borrow,
    ),
    Operation(
        "/banks/<bank_id>/deposits",
        "openReturnDoor",
        "Open a return compartment for a scanned item",
        Deposit,
        DepositAnswer,
        "kiosk",
        {200: "a door opened, or why not"},
        deposit,
    ),
    Operation(
        "/banks/<bank_id>/controller/events",
        "controllerEvents",
        "Signed events from an HTTP locker controller",
        None,
        EventsAccepted,
        "controller",
        {200: "events applied"},
        controller_events,
    ),
)

for _op in OPERATIONS:
    bp.add_url_rule(_op.rule, endpoint=_op.op_id, view_func=_view(_op), methods=["POST"])


# --- the OpenAPI document -------------------------------------------------------------------


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this blueprint, generated from :data:`OPERATIONS`."""
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error = {"application/json": {"schema": ref(ApiError)}}
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        path = op.rule.replace("<bank_id>", "{bank_id}")
        responses: dict[str, Any] = {
            str(code): {
                "description": text,
                "content": {
                    "application/json": {
                        "schema": ref(op.answer)
                        if code < 400 or code in (429, 503)
                        else ref(ApiError)
                    }
                },
            }
            for code, text in op.statuses.items()
        }
        for code, text in _COMMON.items():
            if op.role == "controller" and code not in (401, 404):
                continue  # a controller call is either authentic or rejected
            responses.setdefault(str(code), {"description": text, "content": error})
        spec: dict[str, Any] = {
            "operationId": op.op_id,
            "summary": op.summary,
            "parameters": [
                {
                    "name": "bank_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": BANK_ID},
                }
            ],
            "responses": responses,
        }
        if op.body is not None:
            spec["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(op.body)}},
            }
        if op.role == "controller":
            spec["security"] = [{"controllerSignature": []}]
            spec["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "properties": {"events": {"type": "array"}}}
                    }
                },
            }
        else:
            spec["security"] = [{"bearer": []}]
        paths[path] = {"post": spec}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Lockerbridge kiosk and controller API", "version": "1"},
        "servers": [{"url": PREFIX}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "controllerSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Lockerbridge-Signature",
                },
            },
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(openapi())


@bp.errorhandler(404)
def _not_found(_exc: Exception) -> Response:
    return _error(404, "not_found", "No such API operation.")


@bp.errorhandler(405)
def _not_allowed(_exc: Exception) -> Response:
    return _error(405, "method_not_allowed", "Use POST for this operation.")


@bp.errorhandler(413)
def _too_large(_exc: Exception) -> Response:
    return _error(413, "too_large", "The request body is too large.")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
