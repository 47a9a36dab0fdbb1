"""LDAP (``[directory.ldap]``, the ``ldap3`` package): the person's DN comes from
``user_dn_template`` or a search as ``bind_dn``; a bind with the password proves it; the groups
whose ``group_filter`` matches the DN are the person's groups.
"""

from __future__ import annotations

from typing import Any

from bridge.config import LdapSettings
from bridge.services.staff.directory.people import DirectoryDown, DirectoryPerson


def _ldap_server(conf: LdapSettings) -> Any:
    import ldap3

    tls = None
    if conf.ca_file or conf.url.startswith("ldaps://") or conf.start_tls:
        import ssl

        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED, ca_certs_file=str(conf.ca_file) if conf.ca_file else None
        )
    return ldap3.Server(conf.url, connect_timeout=conf.timeout_seconds, tls=tls)


def _ldap_connection(conf: LdapSettings, dn: str | None, password: str | None) -> Any:
    """A bound connection; raises DirectoryDown, or ``ldap3`` bind errors for bad credentials."""
    import ldap3
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    try:
        conn = ldap3.Connection(
            _ldap_server(conf),
            user=dn,
            password=password,
            receive_timeout=max(1, int(conf.timeout_seconds)),  # ldap3 packs it as an int
            raise_exceptions=False,
        )
        if conf.start_tls:
            conn.open()
            conn.start_tls()
        if not conn.bind():
            raise LDAPBindError("invalid credentials")
        return conn
    except LDAPBindError:
        raise
    except (LDAPException, OSError) as exc:
        raise DirectoryDown(type(exc).__name__) from exc


def _ldap_find(conf: LdapSettings, conn: Any, username: str) -> str | None:
    from ldap3.utils.conv import escape_filter_chars

    if conf.user_dn_template and not conf.user_base:
        return conf.user_dn_template.format(username=escape_filter_chars(username))
    conn.search(
        conf.user_base,
        conf.user_filter.format(username=escape_filter_chars(username)),
        attributes=[],
    )
    return str(conn.entries[0].entry_dn) if len(conn.entries) == 1 else None


def _ldap_groups(conf: LdapSettings, conn: Any, dn: str) -> tuple[str, ...]:
    from ldap3.utils.conv import escape_filter_chars

    conn.search(
        conf.group_base, conf.group_filter.format(dn=escape_filter_chars(dn)), attributes=["cn"]
    )
    return tuple(str(e.entry_dn) for e in conn.entries)


def ldap_sign_in(conf: LdapSettings, username: str, password: str) -> DirectoryPerson | None:
    """The person if the password binds, else None. Raises DirectoryDown."""
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    if not username or not password:  # an empty password is an anonymous bind: never accept
        return None
    try:
        finder = _ldap_connection(conf, conf.bind_dn, conf.bind_password)
        dn = _ldap_find(conf, finder, username)
        if dn is None:
            return None
        try:
            person = _ldap_connection(conf, dn, password)
        except LDAPBindError:
            return None
        groups = _ldap_groups(conf, finder if conf.bind_dn else person, dn)
        person.unbind()
        finder.unbind()
        return DirectoryPerson("ldap", username, groups)
    except LDAPBindError as exc:  # the service account itself was refused
        raise DirectoryDown("service bind refused") from exc
    except LDAPException as exc:
        raise DirectoryDown(type(exc).__name__) from exc


def ldap_lookup(conf: LdapSettings, username: str) -> DirectoryPerson | None:
    """Re-check without the password (as ``bind_dn`` or anonymously). Raises DirectoryDown."""
    from ldap3.core.exceptions import LDAPBindError, LDAPException

    try:
        conn = _ldap_connection(conf, conf.bind_dn, conf.bind_password)
        dn = _ldap_find(conf, conn, username)
        if dn is None or not conn.search(dn, "(objectClass=*)", attributes=[]):
            return None
        groups = _ldap_groups(conf, conn, dn)
        conn.unbind()
        return DirectoryPerson("ldap", username, groups)
    except (LDAPBindError, LDAPException) as exc:
        raise DirectoryDown(type(exc).__name__) from exc
