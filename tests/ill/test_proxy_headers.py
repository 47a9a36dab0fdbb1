"""Client-certificate headers count only when they come from a trusted proxy
(``web.trusted_proxies``): a caller reaching the app port directly cannot claim to be a partner."""

from __future__ import annotations

from flask.testing import FlaskClient

from bridge.runtime import Runtime
from tests.ill.conftest import PARTNER_DN
from tests.ill.test_endpoint import accept, ill_rows

CERT = {"X-SSL-Client-Verify": "SUCCESS", "X-SSL-Client-S-DN": PARTNER_DN}


def test_certificate_headers_from_a_caller_that_is_not_a_trusted_proxy_are_ignored(
    client: FlaskClient, rt: Runtime
) -> None:
    forged = client.post(
        "/ncip", data=accept(), headers=CERT, environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert forged.status_code == 401 and ill_rows(rt) == []

    from_proxy = client.post("/ncip", data=accept(), headers=CERT)  # 127.0.0.1: the proxy
    assert from_proxy.status_code == 200 and len(ill_rows(rt)) == 1
