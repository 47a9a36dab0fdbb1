"""Load a :class:`Catalogue` from JSON (see ``examples/catalogue.json`` for the format).

Top level: ``institution``, ``library_name``, ``currency``, ``fine_limit`` (decimal string),
``hold_shelf_days``, ``overdue_fine_per_day`` and the lists ``branches``, ``accounts``,
``patrons``, ``items``, ``holds``, ``transits``. Keys starting with ``_`` (such as ``_about``)
are notes for people and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sip2.acs.catalogue import (
    Account,
    Branch,
    Catalogue,
    Hold,
    HoldState,
    Item,
    ItemStatus,
    Patron,
    Transit,
)


class CatalogueError(ValueError):
    """The catalogue file is malformed: fix the file (the message names the bad entry)."""


def load_catalogue(path: str | Path) -> Catalogue:
    """Read a catalogue JSON file.

    Raises:
        CatalogueError: the file is not valid JSON or an entry is malformed.
        OSError: the file cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CatalogueError(f"{path}: the top level must be an object")
    return catalogue_from_dict(data)


def catalogue_from_dict(data: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from already-parsed JSON data.

    Raises:
        CatalogueError: an entry is malformed or refers to an unknown branch/patron/item.
    """
    try:
        cat = Catalogue(
            institution=str(data.get("institution", "DEMO")),
            library_name=str(data.get("library_name", "Demo Library")),
            currency=str(data.get("currency", "USD")),
            fine_limit=_money(data.get("fine_limit", "5.00")),
            hold_shelf_days=int(data.get("hold_shelf_days", 7)),
            overdue_fine_per_day=_money(data.get("overdue_fine_per_day", "0.00")),
        )
        for b in data.get("branches", []):
            cat.branches[b["code"]] = Branch(
                b["code"], b.get("name", b["code"]), bool(b.get("locker_bank", False))
            )
        for a in data.get("accounts", []):
            cat.accounts[a["user"]] = _account(a, cat.institution)
        for p in data.get("patrons", []):
            cat.put(_patron(p))
        for i in data.get("items", []):
            cat.put(_item(i))
        for n, h in enumerate(data.get("holds", []), start=1):
            cat.put(_hold(h, n))
        for t in data.get("transits", []):
            cat.put(Transit(t["item"], t["from"], t["to"], t.get("hold")))
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        if isinstance(exc, CatalogueError):
            raise
        raise CatalogueError(f"malformed catalogue entry: {exc!r}") from exc
    _check_references(cat)
    return cat


def _account(a: Mapping[str, Any], institution: str) -> Account:
    return Account(
        user=a["user"],
        password=a["password"],
        institution=a.get("institution", institution),
        location=a["location"],
        checkin=bool(a.get("checkin", True)),
        checkout=bool(a.get("checkout", True)),
        checked_in_ok=bool(a.get("checked_in_ok", False)),
    )


def _patron(p: Mapping[str, Any]) -> Patron:
    return Patron(
        barcode=p["barcode"],
        pin=str(p["pin"]),
        first_name=p.get("first_name", ""),
        last_name=p.get("last_name", ""),
        email=p.get("email", ""),
        phone=p.get("phone", ""),
        language=p.get("language", "en"),
        category=p.get("category", "adult"),
        blocked=bool(p.get("blocked", False)),
        fines=_money(p.get("fines", "0.00")),
    )


def _item(i: Mapping[str, Any]) -> Item:
    return Item(
        barcode=i["barcode"],
        title=i["title"],
        home=i["home"],
        at=i.get("at", i["home"]),
        record=i.get("record", ""),
        media=i.get("media", "book"),
        status=ItemStatus(i.get("status", "available")),
        charged_to=i.get("charged_to"),
        due=_datetime(i["due"]) if i.get("due") else None,
        fee=_money(i.get("fee", "0.00")),
        categories=tuple(i.get("categories", ())),
        loan_days=int(i.get("loan_days", 21)),
    )


def _hold(h: Mapping[str, Any], n: int) -> Hold:
    return Hold(
        id=h.get("id", f"H{n}"),
        patron=h["patron"],
        pickup=h["pickup"],
        item=h.get("item"),
        record=h.get("record"),
        expires=date.fromisoformat(h["expires"]) if h.get("expires") else None,
        state=HoldState(h.get("state", "pending")),
        captured_item=h.get("captured_item"),
        shelf_expires=date.fromisoformat(h["shelf_expires"]) if h.get("shelf_expires") else None,
        placed=int(h.get("placed", n)),
    )


def _money(value: object) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_references(cat: Catalogue) -> None:
    def need_branch(code: str, where: str) -> None:
        if cat.branches and code not in cat.branches:
            raise CatalogueError(f"{where}: unknown branch {code!r}")

    for a in cat.accounts.values():
        need_branch(a.location, f"account {a.user}")
    for i in cat.items.values():
        need_branch(i.home, f"item {i.barcode}")
        need_branch(i.at, f"item {i.barcode}")
        if i.charged_to is not None and i.charged_to not in cat.patrons:
            raise CatalogueError(f"item {i.barcode}: charged to unknown patron {i.charged_to!r}")
        if (i.status is ItemStatus.CHARGED) != (i.charged_to is not None):
            raise CatalogueError(f"item {i.barcode}: status charged needs charged_to, and back")
    for h in cat.holds.values():
        need_branch(h.pickup, f"hold {h.id}")
        if h.patron not in cat.patrons:
            raise CatalogueError(f"hold {h.id}: unknown patron {h.patron!r}")
        if (h.item is None) == (h.record is None):
            raise CatalogueError(f"hold {h.id}: give exactly one of item or record")
        if h.item is not None and h.item not in cat.items:
            raise CatalogueError(f"hold {h.id}: unknown item {h.item!r}")
    for t in cat.transits.values():
        if t.item not in cat.items:
            raise CatalogueError(f"transit: unknown item {t.item!r}")
        need_branch(t.destination, f"transit of {t.item}")
