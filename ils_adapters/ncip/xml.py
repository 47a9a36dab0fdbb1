"""NCIP 2 XML: the hardened parser, element lookup by local name, and an element builder.

Parsing refuses anything carrying a DOCTYPE (which covers external entities / XXE and entity
expansion bombs), never touches the network, and has a size limit applied before lxml sees a
byte. Lookups match on local names in the NCIP namespace *or* in no namespace, because some
senders (FOLIO's documented peers) are loose about namespaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

from lxml import etree

from ils_adapters.ncip.errors import NcipMalformed

NS = "http://www.niso.org/2008/ncip"
VERSION_ATTR = f"{{{NS}}}version"
SCHEME_ATTR = f"{{{NS}}}Scheme"
# The version we speak; a schema location URI, as NCIP 2 uses it.
VERSION = "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"
DEFAULT_MAX_BYTES = 256 * 1024

_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> etree._Element:
    """Parse one NCIP message safely and return its root element.

    Raises NcipMalformed (the peer's fault) for oversized bodies, any DOCTYPE or entity
    declaration, or XML that is not well-formed.
    """
    if len(body) > max_bytes:
        raise NcipMalformed(f"message is {len(body)} bytes, over the {max_bytes}-byte limit")
    if _DOCTYPE.search(body):
        raise NcipMalformed("DOCTYPE and entity declarations are not accepted")
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NcipMalformed(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise NcipMalformed("empty document")
    # A DOCTYPE in an encoding the byte scan cannot see (UTF-16, ...) is caught here.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise NcipMalformed("DOCTYPE and entity declarations are not accepted")
    for node in root.iter():
        if not isinstance(node.tag, str):  # an unexpanded entity reference
            raise NcipMalformed("entity references are not accepted")
    return root


def local_name(el: etree._Element) -> str:
    return etree.QName(el).localname


def _is_ncip(el: etree._Element) -> bool:
    return etree.QName(el).namespace in (NS, None)


def children(el: etree._Element | None, name: str) -> Iterator[etree._Element]:
    if el is None:
        return
    for child in el:
        if isinstance(child.tag, str) and _is_ncip(child) and local_name(child) == name:
            yield child


def child(el: etree._Element | None, *path: str) -> etree._Element | None:
    """The first element down ``path`` (local names), or None."""
    for name in path:
        el = next(children(el, name), None)
        if el is None:
            return None
    return el


def text(el: etree._Element | None, *path: str) -> str | None:
    """Stripped text of the element down ``path``; None when absent or empty."""
    found = child(el, *path)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def datetime_at(el: etree._Element | None, *path: str) -> datetime | None:
    """An xs:dateTime down ``path`` as an aware datetime (no offset means UTC)."""
    value = text(el, *path)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise NcipMalformed(f"bad dateTime {value!r} in {'/'.join(path)}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_datetime(when: datetime) -> str:
    """xs:dateTime in UTC with a Z, as every sample sender writes it."""
    if when.tzinfo is None:
        raise ValueError("NCIP dates must be timezone-aware")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- building -----------------------------------------------------------------------------


def el(
    name: str, *content: etree._Element | str | None, scheme: str | None = None
) -> etree._Element:
    """An NCIP element; ``None`` content is skipped so optional parts read naturally."""
    node = etree.Element(f"{{{NS}}}{name}", nsmap={"ns1": NS})
    if scheme:
        node.set(SCHEME_ATTR, scheme)
    for part in content:
        if part is None:
            continue
        if isinstance(part, str):
            node.text = (node.text or "") + part
        else:
            node.append(part)
    return node


def opt(name: str, value: str | None, *, scheme: str | None = None) -> etree._Element | None:
    return el(name, value, scheme=scheme) if value else None


def message(*content: etree._Element) -> bytes:
    """Wrap a service element (or top-level Problems) in NCIPMessage with the
    namespace-qualified version attribute."""
    root = el("NCIPMessage", *content)
    root.set(VERSION_ATTR, VERSION)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out
