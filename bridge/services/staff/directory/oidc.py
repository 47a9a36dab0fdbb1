"""OpenID Connect (``[directory.oidc]``): the provider's metadata (cached), the token
endpoint's requests, PKCE (RFC 7636, S256), and the ID token verified (RS256/ES256) against the
provider's JWKS, issuer and audience. Groups come from ``groups_claim``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

from bridge.config import OidcSettings
from bridge.runtime import Runtime
from bridge.services.staff.directory.people import DirectoryDown, DirectoryPerson


def _get_json(url: str, timeout: float) -> dict[str, Any]:
    # Imported on use: without OpenID Connect the web process never loads requests and urllib3
    # (about 4 MiB resident).
    import requests

    try:
        resp = requests.get(url, timeout=timeout)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data
    except (requests.RequestException, ValueError) as exc:
        raise DirectoryDown(f"{url}: {type(exc).__name__}") from exc


def discovery(rt: Runtime, conf: OidcSettings) -> dict[str, Any]:
    """The provider's metadata, cached in Redis for 10 minutes."""
    import json

    key = f"lockerbridge:oidc-discovery:{conf.issuer}"
    cached = rt.redis.get(key)
    if cached:
        found: dict[str, Any] = json.loads(cached)
        return found
    meta = _get_json(
        conf.issuer.rstrip("/") + "/.well-known/openid-configuration", conf.timeout_seconds
    )
    if meta.get("issuer") != conf.issuer:  # OIDC Discovery 1.0 section 4.3
        raise DirectoryDown("discovery document names another issuer")
    rt.redis.set(key, json.dumps(meta), ex=600)
    return meta


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def token_request(conf: OidcSettings, meta: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    import requests  # on use, as in _get_json

    auth = (conf.client_id, conf.client_secret) if conf.client_secret else None
    if auth is None:
        data = {**data, "client_id": conf.client_id}
    try:
        resp = requests.post(
            meta["token_endpoint"], data=data, auth=auth, timeout=conf.timeout_seconds
        )
    except requests.RequestException as exc:
        raise DirectoryDown(type(exc).__name__) from exc
    if resp.status_code >= 500:
        raise DirectoryDown(f"token endpoint answered {resp.status_code}")
    body: dict[str, Any] = resp.json() if resp.content else {}
    if resp.status_code != 200:
        raise PermissionError(body.get("error", f"HTTP {resp.status_code}"))
    return body


def verify_id_token(
    conf: OidcSettings, meta: dict[str, Any], id_token: str, nonce: str | None
) -> dict[str, Any]:
    """Claims of a valid ID token; raises PermissionError (invalid) or DirectoryDown (JWKS)."""
    import jwt

    try:
        key = jwt.PyJWKClient(meta["jwks_uri"], timeout=int(conf.timeout_seconds) or 1)
        signing = key.get_signing_key_from_jwt(id_token)
    except jwt.PyJWKClientConnectionError as exc:
        raise DirectoryDown("JWKS unreachable") from exc
    except jwt.PyJWTError as exc:
        raise PermissionError(f"ID token: {exc}") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            signing.key,
            algorithms=["RS256", "ES256"],
            audience=conf.client_id,
            issuer=conf.issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            leeway=30,
        )
    except jwt.PyJWTError as exc:
        raise PermissionError(f"ID token: {exc}") from exc
    if nonce is not None and claims.get("nonce") != nonce:
        raise PermissionError("ID token: nonce does not match")
    return claims


def person_from(conf: OidcSettings, claims: dict[str, Any]) -> DirectoryPerson:
    groups = claims.get(conf.groups_claim) or []
    if isinstance(groups, str):
        groups = [groups]
    name = str(claims.get(conf.username_claim) or claims["sub"])
    return DirectoryPerson("oidc", name, tuple(str(g) for g in groups))
