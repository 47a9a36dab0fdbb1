"""How one ``[[ils]]`` section and one bank's SIP login become SIP2 connection settings.

Shared by the running processes (``bridge.services.wiring``), ``lockerbridge check-config`` and
``lockerbridge sip2 --bank``, so that a check from the command line talks to the catalogue
exactly as the web and worker processes do.
"""

from __future__ import annotations

from bridge.config import BankSettings, IlsSettings, sip_login_of
from ils_adapters.profiles import profile_named
from sip2.config import ServerConfig, SipAccount
from sip2.transport import DEFAULT_CONNECT_TIMEOUT, TlsConfig


def server_config(ils: IlsSettings) -> ServerConfig:
    """The SIP2 server settings of ``ils``: address, TLS, encoding, checksums, time zone."""
    tls = None
    if ils.tls.enabled:
        tls = TlsConfig(
            ca_file=str(ils.tls.ca_file) if ils.tls.ca_file else None,
            cert_file=str(ils.tls.client_cert) if ils.tls.client_cert else None,
            key_file=str(ils.tls.client_key) if ils.tls.client_key else None,
            verify=ils.tls.verify,
        )
    return ServerConfig(
        host=ils.host,
        port=ils.port,
        tls=tls,
        encoding=ils.encoding,
        error_detection=ils.checksums,
        request_timeout=ils.timeout_seconds,
        connect_timeout=min(ils.timeout_seconds, DEFAULT_CONNECT_TIMEOUT),
        heartbeat_interval=ils.heartbeat_seconds or None,
        idle_close=ils.idle_close_seconds,
        server_tz=ils.zone(),
        dates_in_utc=profile_named(ils.profile).dates_in_utc,
    )


def sip_account(bank: BankSettings, ils: IlsSettings) -> SipAccount:
    """The SIP login (93) of ``bank``: its own (location defaulting to the bank's branch), else
    the ILS's shared one. Banks with equal accounts share the pool's sessions."""
    login = sip_login_of(bank, ils)
    if login is None:  # the settings' validation refuses such a bank
        raise ValueError(f"bank {bank.id!r} has no SIP login")
    return SipAccount(
        user=login.user,
        password=login.password,
        location=login.location,
        institution=ils.institution,
    )
