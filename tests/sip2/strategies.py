"""Hypothesis strategies for valid SIP2 messages, built from the codec's own message table."""

from __future__ import annotations

from hypothesis import strategies as st

from sip2.codec import Message
from sip2.messages import SPECS, FixedField, Kind, MessageSpec

_ONE = {
    Kind.YN: "YN",
    Kind.YNU: "YNU",
    Kind.OK: "01",
    Kind.STATUS: "012",
    Kind.HOLD_MODE: "+-*",
}

dates = st.builds(
    lambda d, zone, t: d + zone + t,
    st.from_regex(r"\A20[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])\Z"),
    st.sampled_from(["    ", "   Z", " EST", "UTC "]),
    st.from_regex(r"\A([01][0-9]|2[0-3])[0-5][0-9][0-5][0-9]\Z"),
) | st.just(" " * 18)


def fixed_value(field: FixedField) -> st.SearchStrategy[str]:
    kind, width = field.kind, field.width
    if kind in _ONE:
        return st.sampled_from(list(_ONE[kind]))
    if kind is Kind.CHAR:
        return st.sampled_from(list("0129AZ "))
    if kind is Kind.DATE:
        return dates
    if kind is Kind.DIGITS:
        return st.text("0123456789", min_size=width, max_size=width)
    if kind is Kind.COUNT:
        return st.text("0123456789", min_size=4, max_size=4) | st.just("    ")
    if kind is Kind.FLAGS:
        return st.text("Y ", min_size=width, max_size=width)
    if kind is Kind.VERSION:
        return st.from_regex(r"\A[0-9]\.[0-9]{2}\Z")
    return st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=width, max_size=width)


# Values: anything but the delimiter, CR, LF, NUL (non-ASCII included: names like "Søren").
values = st.text(st.characters(codec="utf-8", exclude_characters="|\r\n\x00"), max_size=40)
codes = st.from_regex(r"\A[A-Z][A-Z0-9]\Z").filter(lambda c: c not in ("AY", "AZ"))


def message_for(spec: MessageSpec) -> st.SearchStrategy[Message]:
    fixed = st.fixed_dictionaries({f.name: fixed_value(f) for f in spec.fixed})
    required = st.tuples(*(st.tuples(st.just(c), values) for c in spec.required))
    extra = st.lists(st.tuples(codes, values), max_size=6)

    def build(
        fx: dict[str, str], req: tuple[tuple[str, str], ...], more: list[tuple[str, str]]
    ) -> Message:
        return Message.build(spec.command, [*req, *more], **fx)

    return st.builds(build, fixed, required, extra)


messages = st.sampled_from(sorted(SPECS)).flatmap(lambda c: message_for(SPECS[c]))
