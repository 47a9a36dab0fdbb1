"""Access codes: typed codes, QR tokens and card binding (docs/access.md).

Codes and tokens are drawn from a ``RandomSource`` (``secrets`` in production) and only their
keyed hashes (HMAC-SHA256 with a server key, salted with the bank id and the kind) are stored.
A grant is single use: redeeming it marks it used, and it dies with the hold (``expires_at``)
or when revoked. A typed code is unique among the live codes of its bank, so a code alone
identifies the grant.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from lockers.errors import AccessDenied, CodeSpaceExhausted
from lockers.ports import RandomSource

CODE_DIGITS = 6
QR_TOKEN_BYTES = 16  # 128 bits
_MAX_DRAWS = 50
_DENIED = "this code does not open a compartment"


@dataclass(frozen=True)
class AccessGrant:
    """What a patron may open at a bank, as stored: hashes only, never the code itself."""

    grant_id: str
    bank_id: str
    patron_ref: str
    compartments: tuple[int, ...]
    code_hash: str
    qr_hash: str
    card_hash: str | None
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class IssuedAccess:
    """The grant to store plus the secrets to send the patron once (then forget them)."""

    grant: AccessGrant
    typed_code: str
    qr_token: str


class GrantStore(Protocol):
    """Where grants live; the service layer maps this onto its database."""

    def add(self, grant: AccessGrant) -> None: ...

    def replace(self, grant: AccessGrant) -> None: ...

    def live_grants(self, bank_id: str, now: datetime) -> Iterator[AccessGrant]: ...

    def find(
        self,
        bank_id: str,
        *,
        code_hash: str | None = None,
        qr_hash: str | None = None,
        card_hash: str | None = None,
    ) -> list[AccessGrant]: ...


class InMemoryGrantStore:
    """``GrantStore`` in a dict, for tests and the demo."""

    def __init__(self) -> None:
        self._grants: dict[str, AccessGrant] = {}

    def add(self, grant: AccessGrant) -> None:
        self._grants[grant.grant_id] = grant

    def replace(self, grant: AccessGrant) -> None:
        self._grants[grant.grant_id] = grant

    def live_grants(self, bank_id: str, now: datetime) -> Iterator[AccessGrant]:
        return (g for g in self._grants.values() if g.bank_id == bank_id and g.is_live(now))

    def find(
        self,
        bank_id: str,
        *,
        code_hash: str | None = None,
        qr_hash: str | None = None,
        card_hash: str | None = None,
    ) -> list[AccessGrant]:
        return [
            g
            for g in self._grants.values()
            if g.bank_id == bank_id
            and (code_hash is None or g.code_hash == code_hash)
            and (qr_hash is None or g.qr_hash == qr_hash)
            and (card_hash is None or g.card_hash == card_hash)
        ]


class CodeHasher:
    """Keyed hashes of codes, tokens and card numbers; the key never leaves the server."""

    def __init__(self, server_key: bytes) -> None:
        if len(server_key) < 16:
            raise ValueError("server key must be at least 16 bytes")
        self._key = server_key

    def digest(self, kind: str, bank_id: str, value: str) -> str:
        message = f"{kind}\x00{bank_id}\x00{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def code(self, bank_id: str, code: str) -> str:
        return self.digest("code", bank_id, code)

    def qr(self, bank_id: str, token: str) -> str:
        return self.digest("qr", bank_id, token)

    def card(self, bank_id: str, card_number: str) -> str:
        return self.digest("card", bank_id, card_number.strip())


class AccessCodes:
    """Issues and redeems grants. Guessing limits are applied by the caller."""

    def __init__(
        self,
        store: GrantStore,
        hasher: CodeHasher,
        random: RandomSource,
        *,
        code_digits: int = CODE_DIGITS,
    ) -> None:
        if code_digits < CODE_DIGITS:
            raise ValueError(f"typed codes need at least {CODE_DIGITS} digits")
        self._store = store
        self._hasher = hasher
        self._random = random
        self._digits = code_digits

    def issue(
        self,
        *,
        bank_id: str,
        patron_ref: str,
        compartments: tuple[int, ...],
        now: datetime,
        expires_at: datetime,
        card_number: str | None = None,
    ) -> IssuedAccess:
        """Draw a typed code unique among the bank's live codes and a QR token; store hashes.

        Raises ``CodeSpaceExhausted`` if no unique code turns up in a bounded number of draws.
        """
        live = {g.code_hash for g in self._store.live_grants(bank_id, now)}
        for _ in range(_MAX_DRAWS):
            code = str(self._random.randbelow(10**self._digits)).zfill(self._digits)
            code_hash = self._hasher.code(bank_id, code)
            if code_hash not in live:
                break
        else:
            raise CodeSpaceExhausted(f"no unique {self._digits}-digit code left at {bank_id}")
        raw = self._random.token_bytes(QR_TOKEN_BYTES)
        token = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
        grant = AccessGrant(
            grant_id=hashlib.sha256(raw + code.encode()).hexdigest()[:24],
            bank_id=bank_id,
            patron_ref=patron_ref,
            compartments=tuple(sorted(compartments)),
            code_hash=code_hash,
            qr_hash=self._hasher.qr(bank_id, token),
            card_hash=self._hasher.card(bank_id, card_number) if card_number else None,
            issued_at=now,
            expires_at=expires_at,
        )
        self._store.add(grant)
        return IssuedAccess(grant=grant, typed_code=code, qr_token=token)

    def redeem_code(self, bank_id: str, code: str, now: datetime) -> AccessGrant:
        """Use a typed code once; raises ``AccessDenied`` (wrong, used, expired, revoked)."""
        return self._redeem(
            self._store.find(bank_id, code_hash=self._hasher.code(bank_id, code)), now
        )

    def redeem_qr(self, bank_id: str, token: str, now: datetime) -> AccessGrant:
        """Use a QR token once; raises ``AccessDenied``."""
        return self._redeem(self._store.find(bank_id, qr_hash=self._hasher.qr(bank_id, token)), now)

    def redeem_card(self, bank_id: str, card_number: str, now: datetime) -> list[AccessGrant]:
        """Use every live grant bound to this card, once the ILS has confirmed the PIN (63, CQ=Y).

        Raises ``AccessDenied`` when the card has nothing waiting.
        """
        found = self._store.find(bank_id, card_hash=self._hasher.card(bank_id, card_number))
        live = [g for g in found if g.is_live(now)]
        if not live:
            raise AccessDenied(_DENIED)
        return [self._mark_used(g, now) for g in sorted(live, key=lambda g: g.issued_at)]

    def revoke(self, grant: AccessGrant, now: datetime) -> AccessGrant:
        """Cancel a grant (hold cancelled, compartment moved); returns the stored version."""
        revoked = dataclasses.replace(grant, revoked_at=now)
        self._store.replace(revoked)
        return revoked

    def _redeem(self, found: list[AccessGrant], now: datetime) -> AccessGrant:
        live = [g for g in found if g.is_live(now)]
        if not live:
            raise AccessDenied(_DENIED)
        return self._mark_used(live[0], now)

    def _mark_used(self, grant: AccessGrant, now: datetime) -> AccessGrant:
        used = dataclasses.replace(grant, used_at=now)
        self._store.replace(used)
        return used
