"""A person as the directory knows them, and the role their groups give them
(``[directory.roles]``, highest wins).
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.config import DirectorySettings
from bridge.services.staff.accounts import Role

MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk", "sc"})  # RFC 8176 values
_ORDER = [Role.VIEWER, Role.STAFF, Role.ADMIN]


class DirectoryDown(Exception):
    """The directory could not be reached or answered nonsense: try local sign-in."""


@dataclass(frozen=True)
class DirectoryPerson:
    source: str  # "ldap" or "oidc"
    username: str
    groups: tuple[str, ...]


def role_for(conf: DirectorySettings, groups: tuple[str, ...]) -> Role | None:
    """The highest role any of ``groups`` maps to (by name or full DN), None: no access."""
    found: list[Role] = []
    for group in groups:
        short = group.split(",")[0].split("=")[-1]
        for name in (group, short):
            if name in conf.roles:
                found.append(Role(conf.roles[name]))
    return max(found, key=_ORDER.index) if found else None
