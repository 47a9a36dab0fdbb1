"""Finding things at the desk: "where is my hold?" by item barcode, title, patron card or name,
and what is inside a door (for the door page, as the template global ``door_contents``).

Only what the ILS sent and we still keep is searched: titles, cards and names go when the
retention rules clear them (``services.retention``). Viewers may search by item and title and
never see who an item waits for; staff see the name the ILS gave and the card's last four
characters. Name searches need three characters, so nobody lists patrons letter by letter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.config import Settings
from bridge.services.staff.accounts import Role
from bridge.storage.db import unit_of_work
from bridge.storage.tables.lockers import LoadRow
from bridge.storage.tables.returns import DepositRow
from bridge.web import security
from bridge.web.staff.pages import bp

MAX_RESULTS = 50
MIN_NAME_CHARS = 3
LOAD_STATES = {
    "reserved": "Being loaded",
    "loaded": "Waiting for pickup",
    "picked_up": "Picked up",
}


@dataclass(frozen=True)
class Found:
    bank_id: str
    bank_name: str
    compartment: int
    item: str
    title: str | None
    status: str
    waits_for: str | None  # None: nobody, or hidden from this role
    since: datetime | None
    until: datetime | None


def waits_for(name: str | None, card: str | None, role: Role) -> str | None:
    """Who an item waits for, as this role may see it."""
    if not (name or card):
        return None
    if not role.at_least(Role.STAFF):
        return "A patron (hidden from viewers)"
    masked = ("•••• " + card[-4:] if len(card) > 4 else "••••") if card else None
    if name and masked:
        return f"{name} ({masked})"
    return name or masked


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bank_name(settings: Settings, bank_id: str) -> str:
    try:
        return settings.bank(bank_id).name
    except KeyError:
        return bank_id


def _from_load(row: LoadRow, settings: Settings, role: Role) -> Found:
    return Found(
        row.bank_id,
        _bank_name(settings, row.bank_id),
        row.compartment,
        row.item_barcode,
        row.title,
        LOAD_STATES.get(row.state, row.state.replace("_", " ")),
        waits_for(row.patron_name, row.patron, role) if row.kind == "hold" else None,
        row.loaded_at or row.created_at,
        row.expires_at if row.state != "picked_up" else None,
    )


def find(session: Session, settings: Settings, query: str, role: Role) -> list[Found]:
    q = " ".join(query.split())
    if not q:
        return []
    terms = [LoadRow.item_barcode == q, LoadRow.title.ilike(_like(q), escape="\\")]
    if role.at_least(Role.STAFF):
        terms.append(LoadRow.patron == q)
        if len(q) >= MIN_NAME_CHARS:
            terms.append(LoadRow.patron_name.ilike(_like(q), escape="\\"))
    loads = session.scalars(
        select(LoadRow)
        .where(or_(*terms))
        .order_by(LoadRow.bank_id, LoadRow.compartment)
        .limit(MAX_RESULTS)
    )
    found = [_from_load(row, settings, role) for row in loads]
    # A returned item is found by its barcode while its deposit is on record.
    for d in session.scalars(
        select(DepositRow)
        .where(DepositRow.item_barcode == q)
        .order_by(DepositRow.deposited_at.desc())
        .limit(5)
    ):
        status = "Returned, needs staff" if d.state == "needs_staff" else "Returned"
        if d.resolved_at is not None:
            status = "Returned, handled by staff"
        found.append(
            Found(
                d.bank_id,
                _bank_name(settings, d.bank_id),
                d.compartment,
                d.item_barcode,
                None,
                status,
                None,
                d.deposited_at,
                None,
            )
        )
    return found


def contents(
    session: Session, settings: Settings, bank_id: str, number: int, role: Role
) -> list[Found]:
    rows = session.scalars(
        select(LoadRow)
        .where(LoadRow.bank_id == bank_id, LoadRow.compartment == number)
        .order_by(LoadRow.id)
    )
    return [_from_load(row, settings, role) for row in rows]


@bp.app_template_global()
def door_contents(bank_id: str, number: int) -> list[Found]:
    user = security.signed_in_user()
    rt = security.runtime()
    with unit_of_work(rt.sessions) as s:
        return contents(s, rt.settings, bank_id, number, user.role if user else Role.VIEWER)


@bp.get("/search")
@security.require_role(Role.VIEWER)
def search() -> ResponseReturnValue:
    user = security.signed_in_user()
    role = user.role if user else Role.VIEWER
    query = request.args.get("q", "")[:120]
    rt = security.runtime()
    results: list[Found] = []
    if query.strip():
        with unit_of_work(rt.sessions) as s:
            results = find(s, rt.settings, query, role)
    zones = {b.id: b.timezone for b in rt.settings.banks}
    return render_template(
        "staff/search.html",
        query=query,
        results=results,
        zones=zones,
        staff=role.at_least(Role.STAFF),
    )
