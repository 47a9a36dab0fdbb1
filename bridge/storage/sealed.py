"""Columns whose values the database never sees in the clear (``SealedJSON``).

A notification keeps the patron's typed code and QR token until the message is sent - hours
when mail is down. The row holds them sealed with AES-256-GCM under a key derived (HKDF-SHA256)
from ``security.code_keys``, which live in the configuration, not in the database: a copy of
the database, a backup or an SQLite WAL file shows only ciphertext.

Every runtime registers its configuration's keys (:func:`register_keys`); the first key seals,
every registered key opens (rotation: a message sealed before ``code_keys`` got a new first key
still opens while the old key stays configured). The stored form is ``v1:<key id>:<base64>``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

_INFO = b"lockerbridge sealed column v1"
_NONCE = 12
_lock = threading.Lock()
_keys: dict[str, AESGCM] = {}
_sealing: list[str] = []  # the id of the key new values are sealed with


class SealedKeyMissing(RuntimeError):
    """A sealed value whose key is not configured (any more)."""


def _key_id(material: str) -> str:
    return hashlib.sha256(b"key-id\x00" + material.encode()).hexdigest()[:12]


def register_keys(materials: Sequence[str]) -> None:
    """Makes ``materials`` available; the first one seals from now on."""
    with _lock:
        for material in materials:
            kid = _key_id(material)
            if kid not in _keys:
                key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
                    material.encode()
                )
                _keys[kid] = AESGCM(key)
        if materials:
            _sealing[:] = [_key_id(materials[0])]


def seal(plain: bytes) -> str:
    with _lock:
        if not _sealing:
            raise SealedKeyMissing("no key registered to seal with")
        kid = _sealing[0]
        aead = _keys[kid]
    nonce = os.urandom(_NONCE)
    data = base64.urlsafe_b64encode(nonce + aead.encrypt(nonce, plain, kid.encode())).decode()
    return f"v1:{kid}:{data}"


def unseal(stored: str) -> bytes:
    version, kid, data = stored.split(":", 2)
    with _lock:
        aead = _keys.get(kid)
    if version != "v1" or aead is None:
        raise SealedKeyMissing(f"sealed with key {kid}, which is not configured")
    raw = base64.urlsafe_b64decode(data)
    try:
        return aead.decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode())
    except InvalidTag as exc:
        raise SealedKeyMissing(f"value sealed with key {kid} does not open") from exc


class SealedJSON(TypeDecorator[Any]):
    """A JSON value stored sealed (see the module docstring); None stays NULL."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return seal(json.dumps(value, separators=(",", ":")).encode())

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(unseal(str(value)))
