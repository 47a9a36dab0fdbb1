"""NCIP messages written the way each kind of sender writes them (our own samples, shaped
after the behaviour of the implementations named; the official samples in ../shared/ncip are
read by other tests at run time).

- ReShare-style: ``ns1:`` prefix, qualified ``ns1:version`` and ``ns1:Scheme``, RequestId and
  ItemId qualified by the lending agency.
- OCLC-style (circill toolkit, JAXB output): ``ns2:`` prefix, a RequestId with no AgencyId;
  LookupVersion in the version-discovery form with UniqueAgencyId and a public DOCTYPE.
- FOLIO's documented peers (Relais D2D): default namespace, unqualified ``version``, bare
  values without Scheme; FOLIO mod-ncip's own refusals carry an empty ProblemType.
- NCIP version 1 senders: no namespace, the v1 public DOCTYPE, UniqueAgencyId/UniqueItemId.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

NCIP = "http://www.niso.org/2008/ncip"
V2_0 = "http://www.niso.org/schemas/ncip/v2_0/imp1/xsd/ncip_v2_0.xsd"
V2_02 = "http://www.niso.org/schemas/ncip/v2_02/ncip_v2_02.xsd"
ACTION_SCHEME = (
    "http://www.niso.org/ncip/v1_0/imp1/schemes/requestedactiontype/requestedactiontype.scm"
)


def _e(value: str) -> str:
    return escape(value)


def reshare_accept_item(
    *,
    request: str,
    item: str,
    user: str = "23000000000001",
    pickup: str = "MAIN-LOCKER",
    agency: str = "RESHARE",
    to: str = "MAINLIB",
    date_for_return: str = "2027-01-15T23:59:59Z",
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ns1:NCIPMessage xmlns:ns1="{NCIP}" ns1:version="{V2_0}">
  <ns1:AcceptItem>
    <ns1:InitiationHeader>
      <ns1:FromAgencyId><ns1:AgencyId>{_e(agency)}</ns1:AgencyId></ns1:FromAgencyId>
      <ns1:ToAgencyId><ns1:AgencyId>{_e(to)}</ns1:AgencyId></ns1:ToAgencyId>
    </ns1:InitiationHeader>
    <ns1:RequestId>
      <ns1:AgencyId>{_e(agency)}</ns1:AgencyId>
      <ns1:RequestIdentifierValue>{_e(request)}</ns1:RequestIdentifierValue>
    </ns1:RequestId>
    <ns1:RequestedActionType ns1:Scheme="{ACTION_SCHEME}">Hold For Pickup</ns1:RequestedActionType>
    <ns1:UserId><ns1:UserIdentifierValue>{_e(user)}</ns1:UserIdentifierValue></ns1:UserId>
    <ns1:ItemId>
      <ns1:AgencyId>{_e(agency)}</ns1:AgencyId>
      <ns1:ItemIdentifierValue>{_e(item)}</ns1:ItemIdentifierValue>
    </ns1:ItemId>
    <ns1:DateForReturn>{_e(date_for_return)}</ns1:DateForReturn>
    <ns1:ItemOptionalFields>
      <ns1:BibliographicDescription>
        <ns1:Author>Ferrante, Elena</ns1:Author>
        <ns1:Title>L'amica geniale</ns1:Title>
      </ns1:BibliographicDescription>
    </ns1:ItemOptionalFields>
    <ns1:PickupLocation>{_e(pickup)}</ns1:PickupLocation>
  </ns1:AcceptItem>
</ns1:NCIPMessage>""".encode()


def oclc_accept_item(
    *,
    request: str,
    item: str,
    user: str = "23000000000002",
    pickup: str = "MAIN-LOCKER",
    agency: str = "OCLC",
    to: str = "MAINLIB",
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ns2:NCIPMessage xmlns:ns2="{NCIP}" ns2:version="{V2_02}"><ns2:AcceptItem>\
<ns2:InitiationHeader><ns2:FromAgencyId><ns2:AgencyId>{_e(agency)}</ns2:AgencyId>\
</ns2:FromAgencyId><ns2:ToAgencyId><ns2:AgencyId>{_e(to)}</ns2:AgencyId></ns2:ToAgencyId>\
</ns2:InitiationHeader><ns2:RequestId><ns2:RequestIdentifierValue>{_e(request)}\
</ns2:RequestIdentifierValue></ns2:RequestId><ns2:RequestedActionType>Hold For Pickup\
</ns2:RequestedActionType><ns2:UserId><ns2:UserIdentifierValue>{_e(user)}\
</ns2:UserIdentifierValue></ns2:UserId><ns2:ItemId><ns2:ItemIdentifierValue>{_e(item)}\
</ns2:ItemIdentifierValue></ns2:ItemId><ns2:PickupLocation>{_e(pickup)}</ns2:PickupLocation>\
</ns2:AcceptItem></ns2:NCIPMessage>""".encode()


def oclc_lookup_version(*, agency: str = "OCLC", to: str = "MAINLIB") -> bytes:
    """LookupVersion as version discovery is written: its own root, no namespace, and the
    public DOCTYPE that names the version-discovery schema (harmless: nothing is declared)."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE NCIPVersionMessage PUBLIC "-//NISO//NCIP Version Discovery XML Schema//EN" \
"http://www.niso.org/ncip/v1_0/imp1/xsd/ncip_version.xsd">
<NCIPVersionMessage version="http://www.niso.org/ncip/v1_0/imp1/xsd/ncip_version.xsd">
  <LookupVersion>
    <FromAgencyId><UniqueAgencyId><Scheme>http://oclc.example/agencies</Scheme>\
<Value>{_e(agency)}</Value></UniqueAgencyId></FromAgencyId>
    <ToAgencyId><UniqueAgencyId><Scheme>http://oclc.example/agencies</Scheme>\
<Value>{_e(to)}</Value></UniqueAgencyId></ToAgencyId>
  </LookupVersion>
</NCIPVersionMessage>""".encode()


def relais_check_in(
    *, item: str, item_type: str | None = None, agency: str = "RESHARE", to: str = "MAINLIB"
) -> bytes:
    """CheckInItem as FOLIO's documented peers send it; ``item_type`` names what the item id
    is (an ILL system may name the item by its request id)."""
    kind = f"<ItemIdentifierType>{_e(item_type)}</ItemIdentifierType>" if item_type else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<NCIPMessage xmlns="{NCIP}" version="http://www.niso.org/schemas/ncip/v2_0/ncip_v2_0.xsd">
  <CheckInItem>
    <InitiationHeader>
      <FromAgencyId><AgencyId>{_e(agency)}</AgencyId></FromAgencyId>
      <ToAgencyId><AgencyId>{_e(to)}</AgencyId></ToAgencyId>
    </InitiationHeader>
    <ItemId>{kind}<ItemIdentifierValue>{_e(item)}</ItemIdentifierValue></ItemId>
  </CheckInItem>
</NCIPMessage>""".encode()


def relais_accept_item(
    *, request: str, item: str, pickup_expiry: str, agency: str = "RESHARE"
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<NCIPMessage xmlns="{NCIP}" version="http://www.niso.org/schemas/ncip/v2_0/ncip_v2_0.xsd">
  <AcceptItem>
    <InitiationHeader>
      <FromAgencyId><AgencyId>{_e(agency)}</AgencyId></FromAgencyId>
      <ToAgencyId><AgencyId>MAINLIB</AgencyId></ToAgencyId>
    </InitiationHeader>
    <RequestId><AgencyId>{_e(agency)}</AgencyId>\
<RequestIdentifierValue>{_e(request)}</RequestIdentifierValue></RequestId>
    <RequestedActionType>Hold For Pickup</RequestedActionType>
    <UserId><UserIdentifierValue>23000000000001</UserIdentifierValue></UserId>
    <ItemId><ItemIdentifierValue>{_e(item)}</ItemIdentifierValue></ItemId>
    <PickupLocation>FAIRCHILD</PickupLocation>
    <PickupExpiryDate>{_e(pickup_expiry)}</PickupExpiryDate>
  </AcceptItem>
</NCIPMessage>""".encode()


def v1_check_in(*, item: str, agency: str = "RESHARE", to: str = "MAINLIB") -> bytes:
    """An NCIP version 1 CheckInItem: no namespace, the v1 DTD named in a public DOCTYPE."""
    scheme = "http://www.niso.org/ncip/v1_0/schemes/agencyid/agencyid.scm"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE NCIPMessage PUBLIC "-//NISO//NCIP DTD Version 1//EN" \
"http://www.niso.org/ncip/v1_0/imp1/dtd/ncip_v1_0.dtd">
<NCIPMessage version="http://www.niso.org/ncip/v1_0/imp1/dtd/ncip_v1_0.dtd">
  <CheckInItem>
    <InitiationHeader>
      <FromAgencyId><UniqueAgencyId><Scheme>{scheme}</Scheme><Value>{_e(agency)}</Value>\
</UniqueAgencyId></FromAgencyId>
      <ToAgencyId><UniqueAgencyId><Scheme>{scheme}</Scheme><Value>{_e(to)}</Value>\
</UniqueAgencyId></ToAgencyId>
    </InitiationHeader>
    <UniqueItemId>
      <UniqueAgencyId><Scheme>{scheme}</Scheme><Value>{_e(agency)}</Value></UniqueAgencyId>
      <ItemIdentifierValue>{_e(item)}</ItemIdentifierValue>
    </UniqueItemId>
  </CheckInItem>
</NCIPMessage>""".encode()


def folio_refusal(service: str, detail: str) -> bytes:
    """A refusal as FOLIO mod-ncip answers: the ProblemType is empty, the reason is all in
    ProblemDetail."""
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<ns1:NCIPMessage xmlns:ns1="{NCIP}" ns1:version="{V2_02}">
<ns1:{service}Response><ns1:Problem><ns1:ProblemType></ns1:ProblemType>\
<ns1:ProblemDetail>{_e(detail)}</ns1:ProblemDetail></ns1:Problem></ns1:{service}Response>
</ns1:NCIPMessage>""".encode()
