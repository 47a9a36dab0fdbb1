"""Loading and stocking screens for one bank (``/staff/banks/<bank>/load`` and ``/equipment``).

The loading screen is made for a keyboard-wedge barcode scanner: the field has focus on
arrival, the scanner's Enter submits, and the answer comes back (post, redirect, get: a reload
never scans twice) in large plain words with the focus back in the field for the next item.
The scans of this sign-in are kept in Redis beside the staff session, not in the cookie.

With a simulated bank both screens offer "close the door (simulation)", so the whole story can
be played in a browser; see :func:`bridge.web.kiosk.simulated.close_simulated_door`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from bridge.config import BankSettings
from bridge.runtime import Runtime
from bridge.services.equipment import EquipmentError, category, record_inspection, stock_equipment
from bridge.services.loading import SIZES, ScanOutcome, ScanResult, scan_item
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.core import CompartmentRow
from bridge.storage.tables.lockers import EquipmentRow, LoadRow
from bridge.web import security
from bridge.web.kiosk.simulated import close_from_form, open_doors, simulated_bank
from bridge.web.staff.actions import actor_of
from bridge.web.staff.pages import bp
from bridge.web.staff.scan_words import scan_message

SCANS_KEY = "lockerbridge:staff-scans:{sid}:{bank}"
SCANS_KEPT = 50
MAX_BARCODE = 64
LOADED = "loaded"  # shown for a scan whose door has closed on the item since
_GOOD = (ScanOutcome.DOOR_OPEN, LOADED)


@dataclass(frozen=True)
class ScanLine:
    """One scan as the loading screen shows it."""

    at: str  # local time at the bank, HH:MM:SS
    item: str
    outcome: str
    headline: str
    detail: str
    door: int | None

    @property
    def good(self) -> bool:
        return self.outcome in _GOOD


def headline(rt: Runtime, result: ScanResult) -> str:
    """The answer in a few large words; the fuller words (:mod:`scan_words`) go beneath it."""
    o = result.outcome
    if o is ScanOutcome.DOOR_OPEN:
        return f"Door {result.compartment} is open — put the item in and close the door"
    if o is ScanOutcome.SEND_ELSEWHERE:
        where = result.destination or "another branch"
        if result.destination_bank:
            name = rt.settings.bank(result.destination_bank).name
            return f"Not for this bank: send to {where} ({name})"
        return f"Not for this bank: send to {where}"
    return {
        ScanOutcome.UNKNOWN_ITEM: "Unknown barcode",
        ScanOutcome.BANK_FULL: "Bank full — hold shelf instead",
        ScanOutcome.DOOR_FAILED: "No door opened — hold shelf instead",
        ScanOutcome.ALREADY_LOADED: f"Already in door {result.compartment} — nothing changed",
        ScanOutcome.CHECKED_OUT: "On loan — check it in at the desk first",
        ScanOutcome.NO_HOLD: "No hold waits here — reshelve it",
        ScanOutcome.ILS_UNAVAILABLE: "Catalogue not answering — scan again in a minute",
        ScanOutcome.NEEDS_STAFF: "Cannot load — hold shelf instead",
        ScanOutcome.CONFIRM_CHECKIN: "No hold waits here for this item — check it in anyway?",
    }[o]


def bank_or_404(bank_id: str) -> BankSettings:
    try:
        return security.runtime().settings.bank(bank_id)
    except KeyError:
        abort(404)


def _posting(bank_id: str) -> tuple[BankSettings, str]:
    """The bank of a staff form post, and who posted it (for the audit trail)."""
    bank = bank_or_404(bank_id)
    user = security.signed_in_user()
    assert user is not None  # require_role let the request in
    return bank, actor_of(user)


def _field(name: str, limit: int = MAX_BARCODE) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def _scans_key(bank_id: str) -> str:
    session = security.current_session()
    if session is None:  # require_role ran first
        abort(401)
    return SCANS_KEY.format(sid=session.sid, bank=bank_id)


def _remember(rt: Runtime, bank: BankSettings, result: ScanResult) -> None:
    at = rt.clock().astimezone(ZoneInfo(bank.timezone)).strftime("%H:%M:%S")
    line = ScanLine(
        at,
        result.item,
        result.outcome.value,
        headline(rt, result),
        scan_message(rt.settings, result),
        result.compartment,
    )
    key = _scans_key(bank.id)
    pipe = rt.redis.pipeline()
    pipe.lpush(key, json.dumps(line.__dict__))
    pipe.ltrim(key, 0, SCANS_KEPT - 1)
    pipe.expire(key, rt.settings.web.session_absolute_hours * 3600)
    pipe.execute()


def _scans(rt: Runtime, bank_id: str) -> list[ScanLine]:
    raw = rt.redis.lrange(_scans_key(bank_id), 0, SCANS_KEPT - 1)
    return [ScanLine(**json.loads(r)) for r in raw]


def _settled(rt: Runtime, bank_id: str, scans: list[ScanLine]) -> list[ScanLine]:
    """Scans whose door has closed since: say the item is loaded and the patron told, instead
    of still asking staff to put it in."""
    waiting = {(s.door, s.item) for s in scans if s.outcome == ScanOutcome.DOOR_OPEN.value}
    if not waiting:
        return scans
    with unit_of_work(rt.sessions) as s:
        loaded = {
            (door, item)
            for door, item in s.execute(
                select(LoadRow.compartment, LoadRow.item_barcode).where(
                    LoadRow.bank_id == bank_id,
                    LoadRow.item_barcode.in_({item for _, item in waiting}),
                    LoadRow.state != "reserved",
                )
            )
        }
    return [
        replace(
            line,
            outcome=LOADED,
            headline=f"Loaded into door {line.door} — the patron's message is on its way",
            detail="The door is shut. Scan the next item.",
        )
        if line.outcome == ScanOutcome.DOOR_OPEN.value and (line.door, line.item) in loaded
        else line
        for line in scans
    ]


@bp.get("/banks/<bank_id>/load")
@security.require_role(Role.STAFF)
def load(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    scans = _settled(rt, bank.id, _scans(rt, bank.id))
    opened = set(open_doors(rt, bank.id))
    return render_template(
        "staff/load.html",
        bank=bank,
        scans=scans,
        latest=scans[0] if scans else None,
        sizes=SIZES,
        simulated=simulated_bank(rt, bank.id) is not None,
        to_close=sorted({s.door for s in scans if s.good and s.door in opened}),
    )


@bp.post("/banks/<bank_id>/load")
@security.require_role(Role.STAFF)
def load_scan(bank_id: str) -> ResponseReturnValue:
    bank, actor = _posting(bank_id)
    barcode = _field("barcode")
    size = request.form.get("size") or None
    if not barcode:
        flash("Scan an item barcode (or type it and press Enter).", "error")
        return redirect(url_for("staff.load", bank_id=bank.id))
    if size is not None and size not in SIZES:
        abort(400)
    rt = security.runtime()
    # Only the button under "check it in anyway?" sends this: a scan never confirms by itself.
    confirmed = request.form.get("confirm") == "checkin"
    result = scan_item(rt, bank.id, barcode, actor, size=size, confirmed=confirmed)
    _remember(rt, bank, result)
    return redirect(url_for("staff.load", bank_id=bank.id))


# --- equipment stocking -----------------------------------------------------------------------


@dataclass(frozen=True)
class EquipmentDoor:
    number: int
    charger: bool
    state: str
    door_open: bool
    stock: tuple[tuple[str, str, str], ...]  # (barcode, title, state) of what is in it


def _equipment_doors(rt: Runtime, bank_id: str) -> list[EquipmentDoor]:
    with unit_of_work(rt.sessions) as s:
        rows = s.scalars(
            select(CompartmentRow)
            .where(CompartmentRow.bank_id == bank_id, CompartmentRow.purpose == "equipment")
            .order_by(CompartmentRow.number)
        ).all()
        stock: dict[int, list[tuple[str, str, str]]] = {}
        for item in s.scalars(
            select(EquipmentRow)
            .where(
                EquipmentRow.bank_id == bank_id,
                EquipmentRow.state.in_(("stocking", "available", "on_loan")),
            )
            .order_by(EquipmentRow.item_barcode)
        ):
            if item.compartment is not None:
                stock.setdefault(item.compartment, []).append(
                    (item.item_barcode, item.title, item.state)
                )
        return [
            EquipmentDoor(r.number, r.charger, r.state, r.door_open, tuple(stock.get(r.number, ())))
            for r in rows
        ]


def _back_from_loan(rt: Runtime, bank_id: str) -> list[tuple[str, str, str]]:
    """(barcode, title, state) of returned devices of the bank that are not behind a door:
    ``available`` ones wait to be stocked, ``inspection`` ones for staff to look at them."""
    with unit_of_work(rt.sessions) as s:
        return [
            (r.item_barcode, r.title or r.category, r.state)
            for r in s.scalars(
                select(EquipmentRow)
                .where(
                    EquipmentRow.bank_id == bank_id,
                    EquipmentRow.compartment.is_(None),
                    EquipmentRow.state.in_(("available", "inspection")),
                )
                .order_by(EquipmentRow.item_barcode)
            )
        ]


@bp.get("/banks/<bank_id>/equipment")
@security.require_role(Role.STAFF)
def equipment(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    rt = security.runtime()
    doors = _equipment_doors(rt, bank.id)
    return render_template(
        "staff/equipment.html",
        bank=bank,
        doors=doors,
        free=[d for d in doors if d.state == "free" and not d.door_open],
        categories=rt.settings.equipment,
        returned=_back_from_loan(rt, bank.id),
        simulated=simulated_bank(rt, bank.id) is not None,
    )


@bp.post("/banks/<bank_id>/equipment/inspection")
@security.require_role(Role.STAFF)
def equipment_inspection(bank_id: str) -> ResponseReturnValue:
    bank, actor = _posting(bank_id)
    item = _field("item")
    verdict = request.form.get("verdict")
    if verdict not in ("passed", "withdrawn"):
        abort(400)
    note = _field("note", 200)
    try:
        state = record_inspection(
            security.runtime(), item, actor, passed=verdict == "passed", note=note
        )
    except EquipmentError as exc:
        flash(f"Nothing was recorded: {exc}.", "error")
    else:
        if state == "available":
            flash(f"{item} passed its inspection: put it in a door to lend it again.", "ok")
        else:
            flash(f"{item} is withdrawn from lending.", "ok")
    return redirect(url_for("staff.equipment", bank_id=bank.id))


@bp.post("/banks/<bank_id>/equipment")
@security.require_role(Role.STAFF)
def equipment_stock(bank_id: str) -> ResponseReturnValue:
    bank, actor = _posting(bank_id)
    rt = security.runtime()
    item = _field("item")
    title = _field("title", 200) or None
    name = (request.form.get("category") or "")[:63]
    try:
        number = int(request.form.get("door") or "")
    except ValueError:
        number = 0
    try:
        opened = stock_equipment(rt, bank.id, number, item, name, actor, title=title)
    except EquipmentError as exc:
        flash(f"Nothing was stocked: {exc}.", "error")
    else:
        cat = category(rt, name)
        what = title or (cat.label if cat else name)
        flash(f"Door {opened} is open — put the {what} in and close the door.", "ok")
    return redirect(url_for("staff.equipment", bank_id=bank.id))


# --- simulated bank ---------------------------------------------------------------------------

_BACK = {"load": "staff.load", "equipment": "staff.equipment"}


@bp.post("/banks/<bank_id>/simulate/close")
@security.require_role(Role.STAFF)
def simulate_close(bank_id: str) -> ResponseReturnValue:
    bank = bank_or_404(bank_id)
    number, closed = close_from_form(security.runtime(), bank.id, request.form)
    if closed:
        flash(f"Door {number} is closed (simulation).", "ok")
    else:
        flash(f"Door {number} is not open; nothing to close.", "error")
    back = _BACK.get(request.form.get("back") or "", "staff.load")
    return redirect(url_for(back, bank_id=bank.id))
