"""Services answer with outcomes; the pages word them, in every language the kiosk speaks.

Every enum the patron-facing services define is either worded (``OUTCOME_KEYS`` in
``bridge.web.kiosk.words``) or named below as one the pages never word on its own. A new
outcome without words, or a language missing the words of one, fails here, not in front of a
patron.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import string
from enum import Enum

import pytest

from bridge.services.access.presence import Presence
from bridge.services.access.reissue import ReissueOutcome
from bridge.services.access.verification import Verdict
from bridge.services.dayuse import DayUseLimit
from bridge.services.emptying import STEPS
from bridge.services.loading import ScanOutcome, ScanReason
from bridge.services.returns.findings import StaffReason
from bridge.web.kiosk.text import CATALOGUE, EN, LANGUAGES
from bridge.web.kiosk.words import OUTCOME_KEYS
from bridge.web.phone import STAFF_REISSUE_WORDS
from bridge.web.staff.return_words import REASON_WORDS as REASON_WORDS_RETURNS
from bridge.web.staff.return_words import STEP_WORDS
from bridge.web.staff.scan_words import REASON_WORDS, SCAN_WORDS

PATRON_SERVICES = [
    "bridge.services.pickup",
    "bridge.services.equipment",
    "bridge.services.dayuse",
    "bridge.services.return_doors",
    "bridge.services.access.phone",
    "bridge.services.access.reissue",
    "bridge.services.access.readers",
    "bridge.services.access.verification",
    "bridge.services.access.presence",
    "bridge.services.access.kiosks",
    "bridge.services.access.attempts",
]

# Enums a page never words by themselves, and why.
NOT_WORDED: dict[type[Enum], str] = {
    Verdict: "each service turns a verdict into its own outcome",
    Presence: "the phone's NOT_HERE outcome is worded; which wrong number it was is for the audit",
    DayUseLimit: "the words of OVER_LIMIT name both limits",
}


def _enums(module_name: str) -> list[type[Enum]]:
    module = importlib.import_module(module_name)
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Enum) and value.__module__ == module_name
    ]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("module_name", PATRON_SERVICES)
def test_every_outcome_enum_of_a_patron_service_is_worded(module_name: str) -> None:
    unworded = [e for e in _enums(module_name) if e not in OUTCOME_KEYS and e not in NOT_WORDED]
    assert not unworded, f"add words for {unworded} to bridge.web.kiosk.words.OUTCOME_KEYS"


@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_every_outcome_has_words_in_every_language(lang: str) -> None:
    missing = [
        f"{enum.__name__}.{member.name} -> {keys.get(member)!r}"
        for enum, keys in OUTCOME_KEYS.items()
        for member in enum
        if keys.get(member) not in CATALOGUE[lang]
    ]
    assert not missing, missing


@pytest.mark.parametrize("lang", sorted(set(LANGUAGES) - {"en"}))
def test_a_translation_fills_in_the_same_facts_as_the_english(lang: str) -> None:
    worded = {key for keys in OUTCOME_KEYS.values() for key in keys.values()}
    differ = {
        key: (_placeholders(EN[key]), _placeholders(CATALOGUE[lang][key]))
        for key in worded
        if _placeholders(EN[key]) != _placeholders(CATALOGUE[lang][key])
    }
    assert not differ, differ


@pytest.mark.parametrize("module_name", PATRON_SERVICES)
def test_no_patron_facing_result_carries_a_sentence(module_name: str) -> None:
    module = importlib.import_module(module_name)
    results = [
        value
        for name, value in vars(module).items()
        if re.search(r"(Result|View)$", name)
        and dataclasses.is_dataclass(value)
        and value.__module__ == module_name
    ]
    with_message = [r.__name__ for r in results if "message" in {f.name for f in dataclasses.fields(r)}]
    assert not with_message, with_message


def test_every_outcome_a_staff_page_shows_has_its_english_words() -> None:
    assert set(SCAN_WORDS) == set(ScanOutcome)
    assert set(REASON_WORDS) == set(ScanReason)
    assert set(STAFF_REISSUE_WORDS) == set(ReissueOutcome)
    assert set(REASON_WORDS_RETURNS) == set(StaffReason)
    assert set(STEP_WORDS) == set(STEPS)
