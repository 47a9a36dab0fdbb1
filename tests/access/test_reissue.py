"""Lost or forgotten codes: re-issue at the kiosk, by message, by staff; against the reference
SIP2 server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from bridge.runtime import Runtime
from bridge.services.access import reissue
from bridge.services.access.kiosks import enrol
from bridge.services.access.reissue import ReissueOutcome
from bridge.services.pickup import PickupOutcome, pickup_with_code
from sip2.acs.server import ReferenceACS
from tests.access.conftest import (
    ANA,
    ANA_ITEM,
    ANA_PIN,
    BEN,
    audits,
    load_hold,
    messages,
    sim,
)


def _first_code(rt: Runtime) -> str:
    [note] = messages(rt)
    assert note.secrets is not None
    return str(note.secrets["code"])


def test_a_fresh_code_at_the_kiosk_with_card_and_pin_replaces_the_old_one_at_once(
    rt: Runtime, acs: ReferenceACS
) -> None:
    door = load_hold(rt, ANA_ITEM)
    old = _first_code(rt)

    result = reissue.reissue_with_card(rt, "main-lobby", ANA, ANA_PIN)

    assert result.outcome is ReissueOutcome.ISSUED and result.code and result.code != old
    assert pickup_with_code(rt, "main-lobby", old).outcome is PickupOutcome.DENIED
    sent = messages(rt)[-1]
    assert sent.event_key.startswith("reissue:") and sent.secrets
    assert sent.secrets["code"] == result.code
    opened = pickup_with_code(rt, "main-lobby", result.code)
    assert opened.outcome is PickupOutcome.OPENED and sim(rt).is_open(door)
    assert audits(rt, "access_reissued")[0].detail["via"] == "kiosk"


def test_a_wrong_pin_gets_no_code(rt: Runtime) -> None:
    load_hold(rt, ANA_ITEM)
    result = reissue.reissue_with_card(rt, "main-lobby", ANA, "9999")
    assert result.outcome is ReissueOutcome.DENIED and result.code is None
    assert len(messages(rt)) == 1


def test_sending_the_message_again_answers_the_same_whether_or_not_anything_waits(
    rt: Runtime,
) -> None:
    load_hold(rt, ANA_ITEM)
    old = _first_code(rt)

    waiting = reissue.resend_message(rt, "main-lobby", ANA, client="kiosk:1")
    nothing = reissue.resend_message(rt, "main-lobby", BEN, client="kiosk:1")

    assert waiting == nothing  # outcome, words, no code: nothing tells the two apart
    assert len(messages(rt)) == 2  # the first message and the one re-sent for Ana
    # Nothing was revoked: a stranger typing Ana's card cannot take her code away.
    assert pickup_with_code(rt, "main-lobby", old).outcome is PickupOutcome.OPENED


def test_resending_has_its_own_limit_and_still_answers_the_same(rt: Runtime) -> None:
    load_hold(rt, ANA_ITEM)
    answers = [
        reissue.resend_message(rt, "main-lobby", ANA, client=f"kiosk:{n}") for n in range(5)
    ]

    assert len(set(answers)) == 1
    assert len(messages(rt)) == 1 + reissue.RESEND_PER_CARD[0]
    assert [a.detail["reason"] for a in audits(rt, "access_reissue_refused")] == [
        "resend_limit"
    ] * (5 - reissue.RESEND_PER_CARD[0])


def test_staff_re_issue_from_the_compartment_with_a_reason_and_their_own_limit(
    rt: Runtime,
) -> None:
    door = load_hold(rt, ANA_ITEM)
    old = _first_code(rt)

    result = reissue.reissue_for_compartment(
        rt, "main-lobby", door, actor="staff:ann", reason="patron phoned: deleted the email"
    )

    assert result.outcome is ReissueOutcome.ISSUED
    assert pickup_with_code(rt, "main-lobby", old).outcome is PickupOutcome.DENIED
    [event] = audits(rt, "access_reissued")
    assert event.actor == "staff:ann" and event.detail["reason"].startswith("patron phoned")
    empty = reissue.reissue_for_compartment(rt, "main-lobby", 9, actor="staff:ann", reason="x")
    assert empty.outcome is ReissueOutcome.NOTHING_WAITING


@pytest.mark.browser
def test_at_the_kiosk_a_patron_gets_a_new_code_with_card_and_pin_in_the_browser(
    rt: Runtime, live_url: str, page: Page
) -> None:
    door = load_hold(rt, ANA_ITEM)
    old = _first_code(rt)
    token = enrol(rt, "main-lobby", "Lobby", actor="staff:admin")[1]
    page.context.add_cookies([{"name": "lb_kiosk", "value": token, "url": live_url}])

    page.goto(f"{live_url}/kiosk/main-lobby/pickup")
    page.get_by_role("link", name="Lost your code?").click()
    page.get_by_label("Library card number", exact=True).fill(ANA)
    page.get_by_label("PIN", exact=True).fill(ANA_PIN)
    page.get_by_role("button", name="Show a new code").click()

    expect(page.get_by_role("status")).to_contain_text("old code no longer works")
    new = page.locator("#new-code").inner_text().strip()
    assert new != old
    assert pickup_with_code(rt, "main-lobby", old).outcome is PickupOutcome.DENIED
    assert pickup_with_code(rt, "main-lobby", new).outcome is PickupOutcome.OPENED
    assert sim(rt).is_open(door)


def test_codes_reissued_three_times_in_a_row_leave_only_the_newest_message_to_send(
    rt: Runtime, acs: ReferenceACS
) -> None:
    from bridge.notify import delivery

    load_hold(rt, ANA_ITEM)
    codes = [reissue.reissue_with_card(rt, "main-lobby", ANA, ANA_PIN).code for _ in range(3)]
    assert all(codes) and len(set(codes)) == 3
    notes = [m for m in messages(rt) if m.event_key.startswith("reissue:")]
    assert len(notes) == 3 and all(m.facts["reissued"] for m in notes)
    results = [delivery.run(rt, "notification", str(m.id)) for m in notes]
    assert results[:2] == ["skipped: a newer code for the same items replaces it"] * 2
    assert not results[2].startswith("skipped: a newer code")
