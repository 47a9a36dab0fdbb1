"""Every refusal a patron can meet at the kiosk, in English and Spanish, at a staffed and an
unstaffed bank: what happened and what to do next, never an internal term.

First every patron-facing result the kiosk can word (each pickup, borrow, day-use, reader and
new-code outcome, each kind of refused item, including a library system whose own message is
full of SIP2 flag words) is rendered through the kiosk's own wording functions; then the real
routes are driven at a bank marked ``staffed = false`` and the pages themselves are checked.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from bridge.config import DayUseSettings, Settings, load_settings
from bridge.runtime import QUEUE_NAMES
from bridge.services.access.phone import LinkState, PhoneOutcome, PhoneResult
from bridge.services.access.readers import ReaderOutcome, ReaderResult
from bridge.services.access.reissue import ReissueOutcome
from bridge.services.dayuse import DayUseLimit, DayUseOutcome, DayUseResult
from bridge.services.equipment import BorrowOutcome, BorrowRefusal, BorrowResult
from bridge.services.pickup import PickupOutcome, PickupResult, Refusal, RefusalKind
from bridge.web.branding import Brand
from bridge.web.kiosk import text as kiosk_text
from bridge.web.kiosk import words as kiosk_words
from ils_adapters.sip2_adapter import _FLAG_WORDS
from sip2.results import PatronFlag
from tests.web.conftest import csrf_from, load_for_pickup, web_config

FLAG_TERMS = [f.name.replace("_", " ").lower() for f in PatronFlag] + list(_FLAG_WORDS.values())
INTERNAL = [r"\bSIP2?\b", r"\bILS\b", r"\bACS\b", r"\bNCIP\b", r"\boutbox\b", r"\brq\b", "[{}]"]
INTERNAL += [rf"\b{name}\b" for name in QUEUE_NAMES]
# Said only at a staffed bank (the footer and the help clause choose other words elsewhere).
STAFFED_ONLY = {"help", "next_desk"}
STAFF = [r"\bstaff\b", r"\bdesk\b", r"\bpersonal\b", r"\bmostrador\b"]
# What the library system said when it refused, with its flag words: never to be repeated.
ILS_SAYS = "Patron status: recall privileges denied; recalls are not allowed on this card"


def problems(words: str, *, staffed: bool) -> list[str]:
    found = [t for t in FLAG_TERMS if t in words.lower()]
    found += [p for p in INTERNAL if re.search(p, words, re.IGNORECASE)]
    if not staffed:
        found += [p for p in STAFF if re.search(p, words, re.IGNORECASE)]
    return found


def _brand(staffed: bool, phone: str) -> Brand:
    return Brand("Riverside Library", None, "", phone, "USD", staffed)


def _every_result(lang: str, brand: Brand) -> list[str]:
    zone = "UTC"
    later = datetime(2026, 12, 7, 21, 30, tzinfo=UTC)
    said: list[str] = []
    refusals = (
        Refusal("31", "Kindred", 4, RefusalKind.FEE, fee="1.50", ils_says=ILS_SAYS),
        Refusal("32", None, 5, RefusalKind.ILS_UNAVAILABLE),
        Refusal("33", "Beloved", 6, RefusalKind.DOOR_OUT_OF_ORDER),
        Refusal("34", "Rayuela", 7, RefusalKind.ILS_REFUSED, ils_says=ILS_SAYS),
    )
    for outcome in PickupOutcome:
        for until in (None, later):
            result = PickupResult(
                outcome, (3,), refusals, locked_until=until, block_reasons=(ILS_SAYS,)
            )
            for way in ("card", "code", "qr"):
                said.append(kiosk_words.pickup_headline(lang, result, zone, brand, way))
    said += [kiosk_words.refusal_line(lang, r, brand).why for r in refusals]
    for borrow in BorrowOutcome:
        for until in (None, later):
            for why in (None, *BorrowRefusal):
                result = BorrowResult(
                    borrow, "39", 16, "2.00", None, until, title="Laptop", refusal=why,
                    category="Laptops", limit="1", has="2", ils_says=ILS_SAYS,
                )
                said.append(kiosk_words.borrow_headline(lang, result, zone, brand))
                said.append(kiosk_words.borrow_detail(lang, result, brand) or "")
    # Day use, new codes, card readers and phone links, as the kiosk and the phone pages word
    # them.
    for use in DayUseOutcome:
        for limit in (None, *DayUseLimit):
            said.append(kiosk_words.dayuse_words(
                lang, brand, DayUseResult(use, 3, later, limit, (ILS_SAYS,)), zone, DayUseSettings()
            ))
    said += [kiosk_words.newcode_words(lang, brand, o) for o in ReissueOutcome]
    said += [kiosk_words.reader_words(lang, brand, ReaderResult(o, (3,))) for o in ReaderOutcome]
    said += [kiosk_words.link_words(lang, brand, state) for state in LinkState]
    for phone_outcome in PhoneOutcome:
        for state in LinkState:
            said.append(kiosk_words.phone_words(lang, brand, PhoneResult(
                phone_outcome, (3,), link=state, other_bank="East Station", bank="Main Library"
            )))
    # Everything else the kiosk says (day use, card readers, new codes, returns, help).
    for key in kiosk_text.EN:
        if key in STAFFED_ONLY and not brand.staffed:
            continue
        said.append(
            kiosk_words.say(
                lang, key, brand, door=3, doors="3", until="21:30", max_hours=4,
                per_patron=1, seconds=20, count=2, n=2, digits="1 2 3", fee="2.00 USD",
                weekday="Monday", day=7, month="December", year=2026, date="7 December",
                other="East Station", bank="Main Library",
                category="Laptops", limit="1", has="2",
                phone=brand.help_phone,
            )
        )
    return said


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("staffed", [True, False])
@pytest.mark.parametrize("phone", ["", "555-0100"])
def test_every_patron_facing_result_is_free_of_internal_terms(
    lang: str, staffed: bool, phone: str
) -> None:
    brand = _brand(staffed, phone)
    bad = {w: problems(w, staffed=staffed) for w in _every_result(lang, brand)}
    bad = {w: p for w, p in bad.items() if p}
    assert not bad, bad


def test_an_unstaffed_bank_names_the_number_to_call_and_a_staffed_one_the_desk() -> None:
    unstaffed = _brand(False, "555-0100")
    words = kiosk_words.say("en", "outcome_blocked", unstaffed)
    assert words.endswith("To sort it out, call the library at 555-0100.")
    assert kiosk_words.say("es", "outcome_blocked", unstaffed).endswith(
        "Para resolverlo, llame a la biblioteca al 555-0100."
    )
    assert "ask at the library desk" in kiosk_words.say("en", "outcome_blocked", _brand(True, ""))


def test_the_spanish_kiosk_says_casillero_never_taquilla() -> None:
    spanish = " ".join(kiosk_text.ES.values()).lower()
    assert "taquilla" not in spanish and "casillero" in spanish


# --- the real routes at a bank nobody staffs ---------------------------------------------------


@pytest.fixture
def web_settings(tmp_path: Path) -> Settings:
    cfg = web_config(tmp_path)
    for bank in cfg["banks"]:
        bank["staffed"] = False
    cfg["branding"] = {"help_phone": "555-0100"}
    cfg["dayuse"] = {"compartments": {"main-lobby": [11, 12]}, "max_hours": 4, "per_patron": 1}
    return load_settings(None, **cfg)


def _post(client: FlaskClient, path: str, data: dict[str, str]) -> str:
    token = csrf_from(client.get("/kiosk/main-lobby/pickup/card").get_data(as_text=True))
    resp = client.post(f"/kiosk/main-lobby/{path}", data={**data, "csrf_token": token})
    assert resp.status_code in (200, 422, 503), resp.status_code
    return _visible(resp.get_data(as_text=True))


def _visible(html: str) -> str:
    main = re.split(r'<main id="main"[^>]*>', html, maxsplit=1)[-1].split("</main>", 1)[0]
    foot = html.split('<footer class="foot">', 1)[-1]
    text = re.sub(r"<[^>]+>", " ", main + " " + foot)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_refusals_at_an_unstaffed_bank_through_the_kiosk_routes(
    client: FlaskClient, rt: Any, ils: Any, doors: Any, lang: str
) -> None:
    loaded = load_for_pickup(rt, ils, doors, "31007001", title="Kindred")
    ils.add_patron("21000009", "9090", block_reasons=(ILS_SAYS,))
    def post(path: str, **form: str) -> str:
        return _post(client, f"{path}?lang={lang}", {**form, "lang": lang})

    pages = {
        "wrong code": post("pickup/code", code="000000"),
        "wrong pin": post("pickup/card", card="21000001", pin="0000"),
        "blocked": post("pickup/card", card="21000009", pin="9090"),
        "day use blocked": post("dayuse", card="21000009", pin="9090"),
        "no equipment": post("equipment", category="laptop", card="21000001", pin="4321"),
        "new code denied": post("newcode", card="21000001", pin="0000"),
    }
    for name, words in pages.items():
        assert not problems(words, staffed=False), (name, words)
        assert "555-0100" in words, (name, words)  # the help number, on every page
    try_again = "Try again" if lang == "en" else "Intentar de nuevo"
    for name in ("wrong code", "wrong pin", "blocked", "new code denied"):
        # "Try again" is the first button after a refusal.
        assert pages[name].index(try_again) < pages[name].index(
            "Finish" if lang == "en" else "Terminar"
        ), name
    assert not doors["main-lobby"].is_open(loaded.compartment)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_phone_refusals_at_an_unstaffed_bank(
    client: FlaskClient, rt: Any, ils: Any, doors: Any, lang: str
) -> None:
    from bridge.services.access.phone import kiosk_code

    ils.add_patron("21000009", "9090", block_reasons=(ILS_SAYS,))

    def post(path: str, **form: str) -> str:
        page = client.get(f"/phone/{path}?lang={lang}").get_data(as_text=True)
        resp = client.post(
            f"/phone/{path}", data={**form, "lang": lang, "csrf_token": csrf_from(page)}
        )
        assert resp.status_code in (422, 429), resp.status_code
        return _visible(resp.get_data(as_text=True))

    here = kiosk_code(rt, "main-lobby")[0]
    pages = {
        "wrong number": post("dayuse/main-lobby", card="21000001", pin="4321", code="000000"),
        "blocked": post("dayuse/main-lobby", card="21000009", pin="9090", code=here),
        "wrong pin": post("dayuse/main-lobby", card="21000001", pin="0000", code=here),
        "new code denied": post("newcode/main-lobby", card="21000001", pin="0000"),
        "nothing waiting": post("newcode/main-lobby", card="21000001", pin="4321"),
    }
    for name, words in pages.items():
        assert not problems(words, staffed=False), (name, words)
        assert "555-0100" in words, (name, words)
