"""Who calls /ncip, and whose loans a call may reach.

A caller authenticates with a shared secret (a partner's or an ILS's) or a client certificate
the TLS proxy verified; a partner's credential reaches only that partner's loans
(:func:`partner_of`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bridge.config import IllPartnerSettings, Settings
from ils_adapters.ncip import Header, check_shared_secret

SECRET_HEADER = "X-NCIP-Secret"  # noqa: S105 (a header name)


@dataclass(frozen=True)
class Caller:
    """Who called /ncip, as authentication established it."""

    how: str  # "secret" or "certificate"
    partner: str | None  # the ILL partner's agency when the credential is a partner's

    @property
    def label(self) -> str:
        return f"ncip:{self.partner or 'ils-secret'}"


def _dn(value: str) -> str:
    return re.sub(r"\s*,\s*", ",", value.strip()).casefold()


class _Headers(Protocol):
    def get(self, key: str) -> str | None: ...


def authenticate(settings: Settings, headers: _Headers) -> Caller | None:
    """The caller behind a request's headers, or None.

    Accepted: ``X-NCIP-Secret`` equal to a partner's ``shared_secret`` or to an ILS's
    ``ncip.shared_secret``; or a client certificate the TLS proxy verified (its verify header
    says SUCCESS) whose subject DN is a partner's ``client_dn``. Every secret is compared in
    constant time, and all of them are compared, so timing tells nothing about which matched.
    """
    presented = headers.get(SECRET_HEADER)
    found: Caller | None = None
    for partner in settings.ill_partners:
        if partner.shared_secret and check_shared_secret(presented, partner.shared_secret):
            found = found or Caller("secret", partner.agency)
    for ils in settings.ils:
        secret = ils.ncip.shared_secret if ils.ncip else None
        if secret and check_shared_secret(presented, secret):
            found = found or Caller("secret", None)
    if found is not None:
        return found
    security = settings.security
    verified = (headers.get(security.ncip_client_verify_header) or "").strip().upper()
    subject = headers.get(security.ncip_client_dn_header)
    if verified == "SUCCESS" and subject:
        for partner in settings.ill_partners:
            if partner.client_dn and _dn(partner.client_dn) == _dn(subject):
                return Caller("certificate", partner.agency)
    return None


def partner_of(caller: Caller, header: Header | None) -> str | None:
    """Whose loans a request may see and make: the partner its credential authenticated.

    The ILS's own NCIP secret (staff tools, the catalogue) belongs to no partner: it is trusted
    to act for the agency its InitiationHeader names (FromAgencyId), and without a header for
    none in particular (None).
    """
    return caller.partner or (header.from_agency if header else None)


def partner_for(settings: Settings, agency: str | None) -> IllPartnerSettings | None:
    if not agency:
        return None
    wanted = agency.strip().casefold()
    return next((p for p in settings.ill_partners if p.agency.strip().casefold() == wanted), None)
