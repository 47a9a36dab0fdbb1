"""Which reverse proxies are believed (``web.trusted_proxies``, docs/operations.md).

Behind a proxy every request comes from the proxy's address, so guessing limits keyed on the
client address would lump every patron phone together, and ``X-Forwarded-*`` headers name the
real client - but any caller can send those headers too. This WSGI middleware believes them
only from a trusted proxy and hands the rest of the app the real client's address:

- ``trusted_proxies = 0`` (the default): no proxy; ``X-Forwarded-*`` is ignored;
- ``trusted_proxies = N``: N proxies in a chain in front, every request passes through them
  (Werkzeug's ``ProxyFix`` with N hops). Use only when nothing else can reach the app port;
- ``trusted_proxies = ["10.0.0.5", "10.1.0.0/16"]``: forwarded headers are believed only from
  a peer in these addresses or networks (one hop); anyone else's are dropped.

The client-certificate headers an NCIP partner's TLS proxy sets
(``security.ncip_client_verify_header``, ``ncip_client_dn_header``) are dropped from every
request that did not come from a listed trusted proxy, so nobody reaching the app port directly
can claim to be a partner. (With a count, there is no address to check: certificate headers are
then never believed - list the proxy's address to use client certificates.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from werkzeug.middleware.proxy_fix import ProxyFix

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _environ_key(header: str) -> str:
    return "HTTP_" + header.upper().replace("-", "_")


class TrustedProxies:
    def __init__(
        self, app: WSGIApplication, trusted: int | list[str], cert_headers: Iterable[str]
    ) -> None:
        self._app = app
        self._cert_keys = [_environ_key(h) for h in cert_headers]
        self._networks: list[_Network] = []
        if isinstance(trusted, int):
            self._hops = trusted
            self._fixed: Any = (
                ProxyFix(app, x_for=trusted, x_proto=trusted, x_host=trusted) if trusted else None
            )
        else:
            self._hops = 0
            self._networks = [ipaddress.ip_network(a, strict=False) for a in trusted]
            self._fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1)

    def _from_listed_proxy(self, environ: WSGIEnvironment) -> bool:
        try:
            peer = ipaddress.ip_address(environ.get("REMOTE_ADDR") or "")
        except ValueError:
            return False
        return any(peer in net for net in self._networks)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        listed = bool(self._networks) and self._from_listed_proxy(environ)
        if not listed:
            for key in self._cert_keys:
                environ.pop(key, None)
        if self._hops or listed:
            return self._fixed(environ, start_response)
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")]:
            del environ[key]
        return self._app(environ, start_response)
