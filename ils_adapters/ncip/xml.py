"""NCIP 2 XML: the hardened parser, element lookup by local name, and an element builder.

Parsing refuses entity declarations and any DOCTYPE with an internal subset (which covers
external entities / XXE and entity expansion bombs) and entity references. A bare DOCTYPE
naming a public DTD, as NCIP version 1 senders write it, is allowed: the DTD is never loaded,
nothing is fetched (no network), and so it changes nothing about the document. A size limit is
applied before lxml sees a byte. Lookups match on local names in the NCIP namespace *or* in no
namespace, because some senders (FOLIO's documented peers) are loose about namespaces.
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

# An entity declaration, or a DOCTYPE that opens an internal subset ("[").
_DECLARATIONS = re.compile(rb"<!\s*ENTITY|<!\s*DOCTYPE[^>\[]*\[", re.IGNORECASE)


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

    Raises NcipMalformed (the peer's fault) for oversized bodies, an internal DTD subset or
    entity declaration, an entity reference, or XML that is not well-formed.
    """
    if len(body) > max_bytes:
        raise NcipMalformed(f"message is {len(body)} bytes, over the {max_bytes}-byte limit")
    if _DECLARATIONS.search(body):
        raise NcipMalformed("DTD declarations and entity declarations are not accepted")
    try:
        root = etree.fromstring(body, _parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise NcipMalformed(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise NcipMalformed("empty document")
    # Declarations in an encoding the byte scan cannot see (UTF-16, ...) are caught here.
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and (any(True for _ in dtd.iterentities()) or dtd.elements()):
        raise NcipMalformed("DTD declarations and entity declarations are not accepted")
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


def datetime_at(
    el: etree._Element | None, *path: str, service: str | None = None
) -> datetime | None:
    """An xs:dateTime down ``path`` as an aware datetime (no offset means UTC).

    A value that is no date (``2018-02-31``) raises NcipMalformed with the problem "Invalid
    Date", naming the element and, when given, the service it belongs to.
    """
    value = text(el, *path)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise NcipMalformed(
            f"{value!r} in {'/'.join(path)} is not a date and time",
            service=service,
            element=path[-1],
            problem="Invalid Date",
            value=value[:64],
        ) from exc
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


# The version-discovery message (ncip_version.xsd): no namespace, unqualified attributes.
VERSION_DISCOVERY = "http://www.niso.org/ncip/v1_0/imp1/xsd/ncip_version.xsd"
# ncip_version.xsd wants a Scheme for each agency but names none; this says "an NCIP agency id".
AGENCY_SCHEME = "http://www.niso.org/2008/ncip/AgencyId"


def _unique_agency(name: str, agency: str) -> etree._Element:
    outer = etree.Element(name)
    unique = etree.SubElement(outer, "UniqueAgencyId")
    etree.SubElement(unique, "Scheme").text = AGENCY_SCHEME
    etree.SubElement(unique, "Value").text = agency
    return outer


def version_message(
    service: str, from_agency: str, to_agency: str, versions: tuple[str, ...] = ()
) -> bytes:
    """LookupVersion or LookupVersionResponse, valid against ncip_version.xsd."""
    root = etree.Element("NCIPVersionMessage", version=VERSION_DISCOVERY)
    body = etree.SubElement(root, service)
    body.append(_unique_agency("FromAgencyId", from_agency))
    body.append(_unique_agency("ToAgencyId", to_agency))
    for version in versions:
        etree.SubElement(body, "VersionSupported").text = version
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out
