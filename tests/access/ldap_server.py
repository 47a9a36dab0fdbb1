"""A real OpenLDAP server (Debian's slapd) for the tests: its own cn=config and database in a
temporary directory, on a free port, stopped at the end. No system service is involved."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SUFFIX = "dc=library,dc=example"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret-for-tests"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


def available() -> bool:
    return Path(SLAPD).exists() and Path(SLAPADD).exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(db: Path) -> str:
    schemas = "\n".join(f"include: file:///etc/ldap/schema/{name}.ldif" for name in SCHEMAS)
    return f"""dn: cn=config
objectClass: olcGlobal
cn: config

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

{schemas}

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcDbDirectory: {db}
olcSuffix: {SUFFIX}
olcRootDN: {ADMIN_DN}
olcRootPW: {ADMIN_PASSWORD}
olcAccess: {{0}}to attrs=userPassword by self read by anonymous auth by * none
olcAccess: {{1}}to * by * read
"""


def people(users: dict[str, str], groups: dict[str, list[str]]) -> str:
    """LDIF: the suffix, ou=people with ``users`` (uid -> password), ou=groups."""
    out = [
        f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: library\n"
        "o: Library\n",
        f"dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=groups,{SUFFIX}\nobjectClass: organizationalUnit\nou: groups\n",
    ]
    for uid, password in users.items():
        out.append(
            f"dn: uid={uid},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\nuid: {uid}\n"
            f"cn: {uid}\nsn: {uid}\nuserPassword: {password}\n"
        )
    for name, members in groups.items():
        lines = "".join(f"member: uid={m},ou=people,{SUFFIX}\n" for m in members)
        out.append(
            f"dn: cn={name},ou=groups,{SUFFIX}\nobjectClass: groupOfNames\ncn: {name}\n{lines}"
        )
    return "\n".join(out)


@contextlib.contextmanager
def running_slapd(root: Path, users: dict[str, str], groups: dict[str, list[str]]) -> Iterator[str]:
    """Starts slapd with the given people; yields its ``ldap://127.0.0.1:<port>`` URL."""
    confdir, db = root / "slapd.d", root / "db"
    confdir.mkdir()
    db.mkdir()
    (root / "config.ldif").write_text(_config(db))
    (root / "data.ldif").write_text(people(users, groups))
    subprocess.run(
        [SLAPADD, "-n", "0", "-F", str(confdir), "-l", str(root / "config.ldif")],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [SLAPADD, "-n", "1", "-F", str(confdir), "-l", str(root / "data.ldif")],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    url = f"ldap://127.0.0.1:{port}"
    # -d 0: stay in the foreground (no daemon) so the test owns the process.
    proc = subprocess.Popen(
        [SLAPD, "-h", url + "/", "-F", str(confdir), "-d", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"slapd did not start: {err[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
