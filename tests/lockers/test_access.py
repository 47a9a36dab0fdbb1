from __future__ import annotations

import base64
import random
from datetime import timedelta

import pytest

from lockers.access import AccessCodes, CodeHasher, InMemoryGrantStore
from lockers.errors import AccessDenied, CodeSpaceExhausted
from lockers.ports import SystemRandom

from .conftest import T0

KEY = b"server-key-for-tests-0123456789"
LATER = T0 + timedelta(days=7)


class SeededRandom:
    """A repeatable RandomSource for tests."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return self._rng.randrange(exclusive_upper_bound)

    def token_bytes(self, nbytes: int) -> bytes:
        return self._rng.randbytes(nbytes)


class RepeatingRandom(SeededRandom):
    """Draws the same typed code forever: the code space looks full."""

    def randbelow(self, exclusive_upper_bound: int) -> int:
        return 123456


def codes(rng: object | None = None, store: InMemoryGrantStore | None = None) -> AccessCodes:
    return AccessCodes(store or InMemoryGrantStore(), CodeHasher(KEY), rng or SystemRandom())  # type: ignore[arg-type]


def issue(access: AccessCodes, patron: str = "p1", card: str | None = None, bank: str = "b1"):  # type: ignore[no-untyped-def]
    return access.issue(
        bank_id=bank,
        patron_ref=patron,
        compartments=(3,),
        now=T0,
        expires_at=LATER,
        card_number=card,
    )


def test_typed_codes_have_six_digits_and_qr_tokens_128_url_safe_bits() -> None:
    issued = issue(codes())
    assert len(issued.typed_code) == 6 and issued.typed_code.isdigit()
    raw = base64.urlsafe_b64decode(issued.qr_token + "=" * (-len(issued.qr_token) % 4))
    assert len(raw) * 8 >= 128
    assert set(issued.qr_token) <= set(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    )


def test_shorter_typed_codes_are_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="at least 6 digits"):
        AccessCodes(InMemoryGrantStore(), CodeHasher(KEY), SystemRandom(), code_digits=4)


def test_only_keyed_hashes_of_codes_and_cards_are_stored() -> None:
    store = InMemoryGrantStore()
    issued = issue(codes(store=store), card="21234000567890")
    stored = repr(list(store.live_grants("b1", T0)))
    assert issued.typed_code not in stored
    assert issued.qr_token not in stored
    assert "21234000567890" not in stored
    assert len(issued.grant.code_hash) == 64


def test_the_same_randomness_gives_the_same_codes() -> None:
    first = issue(codes(SeededRandom(7)))
    second = issue(codes(SeededRandom(7)))
    assert (first.typed_code, first.qr_token) == (second.typed_code, second.qr_token)


def test_typed_codes_are_unique_among_the_banks_live_codes() -> None:
    access = codes(SeededRandom(1), InMemoryGrantStore())
    issued = [issue(access, patron=f"p{n}").typed_code for n in range(300)]
    assert len(set(issued)) == 300


def test_a_full_code_space_is_reported_instead_of_reusing_a_live_code() -> None:
    access = codes(RepeatingRandom(0))
    issue(access)
    with pytest.raises(CodeSpaceExhausted):
        issue(access, patron="p2")
    # Another bank has its own code space.
    assert issue(access, bank="b2").typed_code == "123456"


def test_a_typed_code_opens_once() -> None:
    access = codes()
    issued = issue(access)
    grant = access.redeem_code("b1", issued.typed_code, T0 + timedelta(hours=1))
    assert grant.compartments == (3,) and grant.patron_ref == "p1"
    with pytest.raises(AccessDenied):
        access.redeem_code("b1", issued.typed_code, T0 + timedelta(hours=2))


def test_a_qr_token_opens_once_and_only_at_its_bank() -> None:
    access = codes()
    issued = issue(access)
    with pytest.raises(AccessDenied):
        access.redeem_qr("b2", issued.qr_token, T0)
    assert access.redeem_qr("b1", issued.qr_token, T0).patron_ref == "p1"
    with pytest.raises(AccessDenied):
        access.redeem_qr("b1", issued.qr_token, T0)


def test_codes_expire_with_the_hold() -> None:
    access = codes()
    issued = issue(access)
    with pytest.raises(AccessDenied):
        access.redeem_code("b1", issued.typed_code, LATER)


def test_a_revoked_code_no_longer_opens() -> None:
    access = codes()
    issued = issue(access)
    access.revoke(issued.grant, T0)
    with pytest.raises(AccessDenied):
        access.redeem_qr("b1", issued.qr_token, T0)


def test_a_card_opens_every_live_grant_bound_to_it_once() -> None:
    access = codes()
    issue(access, card="21234000567890")
    issue(access, card=" 21234000567890 ")
    issue(access, patron="p2", card="29999")
    grants = access.redeem_card("b1", "21234000567890", T0)
    assert len(grants) == 2 and {g.patron_ref for g in grants} == {"p1"}
    with pytest.raises(AccessDenied):
        access.redeem_card("b1", "21234000567890", T0)
