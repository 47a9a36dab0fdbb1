"""Issuing phone links, inside the transaction that issues a patron's access code.

The lower half of ``bridge.services.access.phone`` (which owns the link's use at the bank): door
events (``bridge.services.doors.readiness``) issue links when items are loaded, and must not
depend on the pickup flow that a link later starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from bridge.runtime import Runtime
from bridge.services.banks import hashers
from bridge.storage.tables.access import PhoneLinkRow

TOKEN_BYTES = 16
_TAG_BYTES = 12


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def link_key(rt: Runtime, index: int = 0) -> bytes:
    return hashlib.sha256(
        b"phone-link\x00" + rt.settings.security.code_keys[index].encode()
    ).digest()


def link_tag(key: bytes, body: str) -> str:
    return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest()[:_TAG_BYTES])


def new_token(rt: Runtime) -> str:
    body = _b64(secrets.token_bytes(TOKEN_BYTES))
    return f"{body}.{link_tag(link_key(rt), body)}"


def link_hashes(rt: Runtime, token: str) -> list[str]:
    return [h.digest("phone", "*", token) for h in hashers(rt)]


def issue_link(
    rt: Runtime,
    session: Session,
    *,
    bank_id: str,
    patron_ref: str,
    expires_at: datetime,
    now: datetime,
    grant_id: str | None = None,
) -> str | None:
    """A new phone link for the patron's items at ``bank_id``, inside the caller's transaction.

    Earlier live links of the patron at this bank are revoked. Returns the URL to put in the
    message, or None when ``access.public_url`` is not set (no phone pages offered).
    """
    base = rt.settings.access.public_url
    if not base:
        return None
    revoke_links(session, bank_id, patron_ref, now)
    token = new_token(rt)
    session.add(
        PhoneLinkRow(
            token_hash=link_hashes(rt, token)[0],
            bank_id=bank_id,
            patron_ref=patron_ref,
            grant_id=grant_id,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return f"{base.rstrip('/')}/phone/{token}"


def revoke_links(session: Session, bank_id: str, patron_ref: str, now: datetime) -> None:
    session.execute(
        update(PhoneLinkRow)
        .where(
            PhoneLinkRow.bank_id == bank_id,
            PhoneLinkRow.patron_ref == patron_ref,
            PhoneLinkRow.used_at.is_(None),
            PhoneLinkRow.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


# --- looking up -----------------------------------------------------------------------------
