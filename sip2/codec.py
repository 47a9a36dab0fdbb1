"""SIP2 frame codec: strict encoding, lenient decoding, no I/O.

Why not pysip2's codec: its models validate every fixed field against the spec's pattern and
drop field codes they do not know, and its decoder wants exactly one CR. Real ACSs send CR LF,
vendor fields (checkin's CV/CT/CY/DA, which pysip2 0.1 discards), empty "required" fields, a
fixed part of the wrong length and versions like ``2.0E``. So this is a generic codec: a command
id, the fixed fields laid out by :mod:`sip2.messages`, and an ordered list of ``(code, value)``
pairs that keeps every field, known or not. pysip2 remains the oracle our tests compare with.

Decoding never guesses silently: whatever had to be repaired or could not be recovered is listed
in :attr:`Decoded.problems`. Only input that is no SIP2 frame at all raises :class:`FrameError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from sip2.errors import EncodeError, FrameError, UnknownCommand
from sip2.messages import SPECS, FixedField, Kind, MessageSpec

DELIMITER = "|"
MAX_FIELD_BYTES = 255  # spec: variable-length fields hold at most 255 characters
CONTROL_COMMANDS = frozenset({"96", "97"})  # carry AZ but no AY under error detection

Pair = tuple[str, str]


@dataclass(frozen=True)
class Message:
    """One SIP2 message: what travels between SC and ACS, minus the AY/AZ trailer.

    ``fixed`` holds ``(name, value)`` for the fixed-length fields in spec order (names from
    :mod:`sip2.messages`); ``fields`` holds ``(code, value)`` for the variable fields in wire
    order, unknown and repeated codes included.
    """

    command: str
    fixed: tuple[Pair, ...] = ()
    fields: tuple[Pair, ...] = ()

    @classmethod
    def build(
        cls,
        command: str,
        fields: Iterable[tuple[str, str | None]] = (),
        **fixed: str,
    ) -> Message:
        """Build a message with fixed fields by name (any order) and variable fields in order.

        Variable fields whose value is ``None`` are left out, so optional ones can be passed
        inline. Raises :class:`EncodeError` for an unknown command or fixed-field name.
        """
        spec = SPECS.get(command)
        if spec is None:
            raise EncodeError(f"unknown SIP2 command id {command!r}")
        names = [f.name for f in spec.fixed]
        unknown = fixed.keys() - set(names)
        if unknown:
            raise EncodeError(f"{spec.name} has no fixed fields {sorted(unknown)}")
        ordered = tuple((name, fixed[name]) for name in names if name in fixed)
        pairs = tuple((code, value) for code, value in fields if value is not None)
        return cls(command, ordered, pairs)

    @property
    def spec(self) -> MessageSpec:
        return SPECS[self.command]

    def fixed_value(self, name: str) -> str | None:
        """The fixed field ``name``, or None when it could not be recovered."""
        for key, value in self.fixed:
            if key == name:
                return value
        return None

    @cached_property
    def firsts(self) -> dict[str, str]:
        """The first value of each variable field code (a cached view: do not modify)."""
        # Reversed, so that the first of repeated codes is the one that stays.
        return dict(reversed(self.fields))

    def first(self, code: str) -> str | None:
        """The first value of variable field ``code``, or None when absent."""
        return self.firsts.get(code)

    def all(self, code: str) -> tuple[str, ...]:
        """Every value of the (repeatable) field ``code``, in wire order."""
        return tuple(value for key, value in self.fields if key == code)

    def codes(self) -> frozenset[str]:
        return frozenset(self.firsts)


@dataclass(frozen=True)
class Decoded:
    """A decoded frame: the message plus transport facts and what had to be repaired.

    ``checksum_valid`` is None when the frame had no AZ, else whether it verified.
    """

    message: Message
    sequence: int | None = None
    checksum: str | None = None
    checksum_valid: bool | None = None
    problems: tuple[str, ...] = ()


def checksum(data: bytes) -> str:
    """SIP2 checksum of ``data`` (every byte from the command id through ``AZ``).

    Spec: the 16-bit two's complement of the binary sum of the characters, as 4 uppercase hex.
    """
    return f"{(-sum(data)) & 0xFFFF:04X}"


# --------------------------------------------------------------------------- encoding

_STRICT: dict[Kind, str] = {
    Kind.YN: "[YN]",
    Kind.YNU: "[YNU]",
    Kind.OK: "[01]",
    Kind.STATUS: "[012]",
    Kind.HOLD_MODE: r"[-+*]",
    Kind.CHAR: "[^|\r\n]",
    Kind.DATE: r"(?:[0-9]{8}[ A-Z]{4}[0-9]{6}| {18})",  # blank: "no date" (11/29 nb due date)
    Kind.DIGITS: "[0-9]{%d}",
    Kind.COUNT: "(?:[0-9]{4}| {4})",
    Kind.FLAGS: "[YN ]{%d}",
    Kind.VERSION: r"[0-9]\.[0-9]{2}",
    Kind.TEXT: "[^|\r\n]{%d}",
}

# Lenient forms seen from real ACSs: a date with a tab or collapsed blanks or 0000 for its zone,
# counts with collapsed blanks, versions like 2.0E, flags of the wrong length.
_LENIENT: dict[Kind, str] = {
    Kind.YN: "[^|\r\n]",
    Kind.YNU: "[^|\r\n]",
    Kind.OK: "[^|\r\n]",
    Kind.STATUS: "[^|\r\n]",
    Kind.HOLD_MODE: "[^|\r\n]",
    Kind.CHAR: "[^|\r\n]",
    Kind.DATE: r"(?:[0-9]{8}(?:0000|[ \tA-Z]{0,5})[0-9]{6}| {18})",
    Kind.DIGITS: "[ 0-9]{0,%d}",
    Kind.COUNT: "[ 0-9]{0,4}",
    Kind.FLAGS: "[YN ]{0,%d}",
    Kind.VERSION: r"[0-9]\.[0-9]{1,2}[A-Za-z]?",
    Kind.TEXT: "[^|\r\n]{0,%d}",
}

# A variable field starts with two capitals/digits; the fixed part must end where one begins.
_FIELD_START = r"(?=$|[A-Z][A-Z0-9])"


def _pattern(table: dict[Kind, str], field: FixedField) -> str:
    pattern = table[field.kind]
    count = pattern.count("%d")
    return pattern % ((field.width,) * count) if count else pattern


def _strict_regex(field: FixedField) -> re.Pattern[str]:
    return re.compile(_pattern(_STRICT, field))


_STRICT_RE: dict[tuple[str, str], re.Pattern[str]] = {
    (spec.command, f.name): _strict_regex(f) for spec in SPECS.values() for f in spec.fixed
}
# Whole fixed parts in one pattern per message, each field a group, ending where a field starts.
_STRICT_FIXED: dict[str, re.Pattern[str]] = {
    c: re.compile("".join(f"({_pattern(_STRICT, f)})" for f in spec.fixed) + _FIELD_START)
    for c, spec in SPECS.items()
}


def _check_fixed(message: Message, spec: MessageSpec) -> None:
    given = dict(message.fixed)
    if len(given) != len(message.fixed) or set(given) - {f.name for f in spec.fixed}:
        raise EncodeError(f"{spec.name}: unknown or repeated fixed field in {message.fixed}")
    missing = [f.name for f in spec.fixed if f.name not in given]
    if missing:
        raise EncodeError(f"{spec.name}: missing fixed fields {missing}")
    for field in spec.fixed:
        value = given[field.name]
        if not _STRICT_RE[(spec.command, field.name)].fullmatch(value):
            raise EncodeError(
                f"{spec.name}: fixed field {field.name}={value!r} is not a valid {field.kind.value}"
                f" of width {field.width}"
            )
    names = tuple(name for name, _ in message.fixed)
    if names != tuple(f.name for f in spec.fixed):
        raise EncodeError(f"{spec.name}: fixed fields out of order: {names}")


_CODE = re.compile("[A-Z][A-Z0-9]")
_FORBIDDEN = re.compile("[|\r\n\x00]")


def _check_variable(message: Message, spec: MessageSpec, encoding: str) -> None:
    for code, value in message.fields:
        if not _CODE.fullmatch(code):
            raise EncodeError(f"invalid field code {code!r}")
        if code in ("AY", "AZ"):
            raise EncodeError("AY/AZ are added by encode(error_detection=True), not passed")
        if _FORBIDDEN.search(value):
            raise EncodeError(f"field {code} contains a delimiter, CR, LF or NUL")
        if len(value) * 4 > MAX_FIELD_BYTES:  # else it fits whatever the encoding
            try:
                size = len(value.encode(encoding))
            except UnicodeEncodeError as exc:
                raise EncodeError(f"field {code} cannot be encoded as {encoding}") from exc
            if size > MAX_FIELD_BYTES:
                raise EncodeError(f"field {code} is {size} bytes, more than {MAX_FIELD_BYTES}")
    present = message.codes()
    missing = [c for c in spec.required if c not in present]
    if missing:
        raise EncodeError(f"{spec.name}: missing required fields {missing}")


def encode(
    message: Message,
    *,
    sequence: int | None = None,
    error_detection: bool = False,
    encoding: str = "utf-8",
) -> bytes:
    """Encode ``message`` as one CR-terminated frame, strictly.

    With ``error_detection`` the frame ends ``AY<sequence>AZ<checksum>`` (96 and 97 get only
    ``AZ``, as in the spec). Raises :class:`EncodeError` for anything the spec forbids: an
    unknown command, missing or malformed fixed fields, missing required fields, values holding
    ``|``/CR/LF/NUL or longer than 255 bytes, or a sequence number outside 0-9.
    """
    spec = SPECS.get(message.command)
    if spec is None:
        raise EncodeError(f"unknown SIP2 command id {message.command!r}")
    _check_fixed(message, spec)
    _check_variable(message, spec, encoding)
    fixed = "".join(value for _, value in message.fixed)
    variable = "".join(f"{code}{value}|" for code, value in message.fields)
    text = message.command + fixed + variable
    try:
        body = text.encode(encoding)
    except UnicodeEncodeError as exc:
        raise EncodeError(f"message cannot be encoded as {encoding}") from exc
    if not error_detection:
        return body + b"\r"
    if text[:2] in CONTROL_COMMANDS:
        body += b"AZ"
    else:
        if sequence is None or not 0 <= sequence <= 9:
            raise EncodeError(f"error detection needs a sequence number 0-9, got {sequence!r}")
        body += f"AY{sequence}AZ".encode("ascii")
    return body + checksum(body).encode("ascii") + b"\r"


# --------------------------------------------------------------------------- decoding

# The trailer is read from the parsed fields, not by searching the bytes, so that a value that
# happens to end in "AZ" and four hex digits is never taken for a checksum. Forms seen:
# "|AY1AZ0A1B" (spec), "|AZ0A1B" (AZ without AY), "|AY1|AZ0A1B|", "|AY1" (AY without AZ).
_HEX4 = re.compile(r"[0-9A-Fa-f]{4}")
_DIGIT = re.compile(r"[0-9]")
_AY_AZ = re.compile(r"([0-9])AZ([0-9A-Fa-f]{4})")


def _split_trailer(fields: list[Pair]) -> tuple[int | None, str | None]:
    """Remove AY/AZ from the end of ``fields``; return (sequence, checksum text)."""
    sequence: int | None = None
    checksum_text: str | None = None
    if fields and fields[-1][0] == "AZ" and _HEX4.fullmatch(fields[-1][1]):
        checksum_text = fields.pop()[1]
    elif fields and fields[-1][0] == "AY" and (both := _AY_AZ.fullmatch(fields[-1][1])):
        fields.pop()
        sequence, checksum_text = int(both.group(1)), both.group(2)
    if sequence is None and fields and fields[-1][0] == "AY" and _DIGIT.fullmatch(fields[-1][1]):
        sequence = int(fields.pop()[1])
    return sequence, checksum_text.upper() if checksum_text else None


def _verify(body: bytes, checksum_text: str) -> bool:
    """Checksum over every byte up to and including "AZ" (spec), plus the checksum, is 0."""
    trimmed = body[:-1] if body.endswith(b"|") else body
    if trimmed[-4:].upper() != checksum_text.encode("ascii"):
        return False
    return (sum(trimmed[:-4]) + int(checksum_text, 16)) & 0xFFFF == 0


def _text(payload: bytes, encoding: str, problems: list[str]) -> str:
    try:
        return payload.decode(encoding)
    except UnicodeDecodeError:
        pass
    # A server configured for another code page (cp1252 names under utf-8, or the reverse).
    for fallback in ("utf-8", "cp1252"):
        if fallback != encoding:
            try:
                text = payload.decode(fallback)
            except UnicodeDecodeError:
                continue
            problems.append(f"frame is not {encoding}; decoded as {fallback}")
            return text
    problems.append(f"frame is not {encoding}; undecodable bytes replaced")
    return payload.decode(encoding, errors="replace")


_LENIENT_FIXED: dict[str, re.Pattern[str]] = {
    c: re.compile("".join(f"({_pattern(_LENIENT, f)})" for f in spec.fixed) + _FIELD_START)
    for c, spec in SPECS.items()
}


def _fixed_part(spec: MessageSpec, rest: str, problems: list[str]) -> tuple[tuple[Pair, ...], int]:
    """Read the fixed fields at the start of ``rest``; return them and where variable ones start."""
    names = [f.name for f in spec.fixed]
    strict = _STRICT_FIXED[spec.command].match(rest)
    if strict is not None:
        return tuple(zip(names, strict.groups(), strict=True)), strict.end()
    lenient = _LENIENT_FIXED[spec.command].match(rest)
    if lenient is None:
        return _salvage(spec, rest, problems)
    pairs = tuple(zip(names, lenient.groups(), strict=True))
    for (name, value), field in zip(pairs, spec.fixed, strict=True):
        if not _STRICT_RE[(spec.command, name)].fullmatch(value):
            problems.append(f"fixed field {name}={value!r} is not a standard {field.kind.value}")
    if lenient.end() != spec.fixed_width:
        problems.append(f"fixed part is {lenient.end()} characters, expected {spec.fixed_width}")
    return pairs, lenient.end()


def _salvage(spec: MessageSpec, rest: str, problems: list[str]) -> tuple[tuple[Pair, ...], int]:
    """Recover fixed fields one by one until one does not fit; report the others as lost."""
    pairs: list[Pair] = []
    cursor = 0
    for index, field in enumerate(spec.fixed):
        found = re.compile(_pattern(_LENIENT, field)).match(rest, cursor)
        if found is None or not found.group():
            lost = [f.name for f in spec.fixed[index:]]
            problems.append(f"could not recover fixed fields {lost}")
            break
        pairs.append((field.name, found.group()))
        cursor = found.end()
    else:
        problems.append("fixed part is followed by something that is no field")
    # The variable part starts at the first field code this message may carry (or nowhere).
    codes = "|".join(sorted(set(spec.required) | {"AO", "AA", "AB", "AF", "AG", "AY", "AZ"}))
    start = re.compile(f"(?:{codes})").search(rest, cursor)
    if start is None:
        if cursor < len(rest):
            problems.append(f"dropped {len(rest) - cursor} unreadable characters")
        return tuple(pairs), len(rest)
    if start.start() > cursor:
        problems.append(f"dropped {start.start() - cursor} unreadable characters")
    return tuple(pairs), start.start()


def _variable_part(text: str, problems: list[str]) -> list[Pair]:
    pairs: list[Pair] = []
    for piece in text.split(DELIMITER):
        if not piece:
            continue  # "||" or the final delimiter
        if len(piece) < 2:
            problems.append(f"dropped a field too short to hold a code: {piece!r}")
            continue
        pairs.append((piece[:2], piece[2:]))
    return pairs


def decode(frame: bytes, *, encoding: str = "utf-8") -> Decoded:
    """Decode one frame leniently; a trailing CR, CR LF or a leading stray LF is accepted.

    Raises :class:`FrameError` when the bytes hold no SIP2 message at all (empty, no two-digit
    command id) and :class:`UnknownCommand` (a FrameError) for an id SIP2 does not define.
    Everything else decodes; repairs and losses are listed in ``Decoded.problems``.
    """
    body = frame.strip(b"\r\n")
    if b"\r" in body:
        raise FrameError("more than one frame given to decode(); use a Framer")
    if len(body) < 2:
        raise FrameError(f"frame too short to hold a command id: {body!r}")
    if not body[:2].isdigit():
        raise FrameError(f"frame does not start with a two-digit command id: {body[:16]!r}")
    command = body[:2].decode("ascii")
    spec = SPECS.get(command)
    if spec is None:
        raise UnknownCommand(command)
    problems: list[str] = []
    if b"\x00" in body:
        problems.append("NUL bytes removed")
        body = body.replace(b"\x00", b"")
    rest = _text(body[2:], encoding, problems)
    fixed, start = _fixed_part(spec, rest, problems)
    fields = _variable_part(rest[start:], problems)
    sequence, checksum_text = _split_trailer(fields)
    valid = None if checksum_text is None else _verify(body, checksum_text)
    if valid is False:
        problems.append("checksum does not verify")
    message = Message(command, fixed, tuple(fields))
    missing = [c for c in spec.required if c not in message.firsts]
    if missing:
        problems.append(f"missing required fields {missing}")
    return Decoded(message, sequence, checksum_text, valid, tuple(problems))


def with_fields(message: Message, extra: Mapping[str, str]) -> Message:
    """A copy of ``message`` whose variable fields ``extra`` replace or join the existing ones."""
    kept = tuple((c, v) for c, v in message.fields if c not in extra)
    return Message(message.command, message.fixed, kept + tuple(extra.items()))
