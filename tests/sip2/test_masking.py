"""Frames can be logged: PINs, passwords, CQ and patron names are masked."""

from __future__ import annotations

from sip2.masking import mask_frame


def test_pin_password_cq_and_names_are_masked_and_the_rest_kept() -> None:
    masked = mask_frame(
        "6300120240301    101500          AOMAIN|AA2001|AD1234|CQY|AEJane Doe|DAJane (555)|"
        "\r9300CNlockers|COs3cret|CPLOCKER1|"
    )
    for secret in ("1234", "CQY", "Jane", "s3cret", "555"):
        assert secret not in masked
    for kept in ("AA2001", "AOMAIN", "CPLOCKER1", "CNlockers", "AD***", "CO***"):
        assert kept in masked


def test_an_empty_pin_stays_visibly_empty() -> None:
    assert "|AD|" in mask_frame("2300120240301    101500AOMAIN|AA2001|AC|AD|")


def test_a_field_right_after_the_fixed_part_is_masked_too() -> None:
    assert "s3cret" not in mask_frame("9300COs3cret|CNx|")
