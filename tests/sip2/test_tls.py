"""SIP2 has no encryption: TLS (stunnel or a TLS-capable ACS) with a CA file is verified."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sip2.client import SipClient
from sip2.config import ServerConfig, SipAccount
from sip2.errors import IlsUnavailable
from sip2.transport import TlsConfig

from .fake_acs import FakeAcs

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
ACCOUNT = SipAccount(user="lockers", password="pw", location="LOCKER1", institution="MAIN")


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    san = "subjectAltName=IP:127.0.0.1,DNS:localhost"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", san, "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    directory = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(directory, "acs")
    other, _ = self_signed(directory, "other")
    return cert, key, other


@pytest.fixture
def tls_acs(certs: tuple[Path, Path, Path]) -> Iterator[FakeAcs]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certs[0], certs[1])
    acs = FakeAcs(tls=context)
    yield acs
    acs.stop()


def config(acs: FakeAcs, ca_file: Path) -> ServerConfig:
    return ServerConfig(
        "127.0.0.1",
        acs.port,
        tls=TlsConfig(ca_file=str(ca_file)),
        request_timeout=2,
        connect_timeout=2,
        heartbeat_interval=None,
    )


def test_requests_work_over_tls_with_the_acs_certificate_as_ca(
    tls_acs: FakeAcs, certs: tuple[Path, Path, Path]
) -> None:
    with SipClient.for_server(config(tls_acs, certs[0]), ACCOUNT) as client:
        assert client.item_information("I-1").item_id == "I-1"
        assert client.sc_status().online is True
    assert tls_acs.commands() == ["93", "17", "99"]


def test_an_acs_certificate_we_do_not_trust_is_refused_as_unavailable(
    tls_acs: FakeAcs, certs: tuple[Path, Path, Path]
) -> None:
    with SipClient.for_server(config(tls_acs, certs[2]), ACCOUNT) as client:
        with pytest.raises(IlsUnavailable, match="TLS"):
            client.sc_status()
    assert tls_acs.frames == []
