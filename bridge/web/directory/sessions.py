"""A directory person's staff session: a shadow account ``ldap:<name>`` / ``oidc:<name>`` in
``staff_user`` (no usable password, so it can never sign in locally) and an ordinary staff
session marked as coming from the directory, re-checked at most every ``recheck_minutes``
(:func:`recheck`): removed from the directory or from every mapped group ends the session at
once; a changed group changes the role. Admin rights need a second factor the directory vouches
for.
"""

from __future__ import annotations

import time

from flask import request, session
from sqlalchemy import select

from bridge.runtime import Runtime
from bridge.services.banks import audit
from bridge.services.staff.accounts import Role, StaffUser
from bridge.services.staff.directory.ldap import ldap_lookup
from bridge.services.staff.directory.oidc import (
    discovery,
    person_from,
    token_request,
    verify_id_token,
)
from bridge.services.staff.directory.people import DirectoryDown, DirectoryPerson, role_for
from bridge.storage.db import unit_of_work
from bridge.storage.tables.staff import StaffUserRow
from bridge.web import security


def _shadow_user(rt: Runtime, person: DirectoryPerson, role: Role) -> StaffUser:
    username = f"{person.source}:{person.username}"[:64]
    with unit_of_work(rt.sessions) as s:
        row = s.scalar(select(StaffUserRow).where(StaffUserRow.username == username))
        if row is None:
            # "!" is no argon2 hash: local sign-in can never match it.
            row = StaffUserRow(
                username=username,
                password_hash="!directory",  # noqa: S106
                role=role.value,
            )
            s.add(row)
        row.role, row.active, row.last_login_at = role.value, True, rt.clock()
        s.flush()
        return StaffUser(row.id, username, role, False)


def begin(
    rt: Runtime, person: DirectoryPerson, *, second_factor: bool, refresh_token: str | None
) -> Role | None:
    conf = rt.settings.directory
    role = role_for(conf, person.groups)
    if role is Role.ADMIN and not second_factor:
        role = Role.STAFF  # admin rights need a second factor the directory vouches for
    with unit_of_work(rt.sessions) as s:
        audit(
            s,
            "staff_sign_in" if role else "staff_sign_in_refused",
            at=rt.clock(),
            actor=f"staff:{person.source}:{person.username}"[:120],
            via=person.source,
            role=role.value if role else None,
            reason=None if role else "no mapped group",
            client=request.remote_addr,
        )
    if role is None:
        return None
    user = _shadow_user(rt, person, role)
    started = security.start_session(user, second_factor=second_factor)
    fields: dict[str, str | float] = {
        "directory": person.source,
        "directory_user": person.username,
        "checked_at": time.time(),
    }
    if refresh_token:
        fields["refresh_token"] = refresh_token
    rt.redis.hset(security.SESSION_KEY.format(sid=started.sid), mapping=fields)  # type: ignore[arg-type]
    return role


def recheck(rt: Runtime) -> None:
    """Before each staff request: re-check a directory session when it is due."""
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    key = security.SESSION_KEY.format(sid=sid)
    raw: dict[bytes, bytes] = rt.redis.hgetall(key)  # type: ignore[assignment]
    data = {k.decode(): v.decode() for k, v in raw.items()}
    source = data.get("directory")
    if not source:
        return
    conf = rt.settings.directory
    if time.time() - float(data.get("checked_at", 0)) < conf.recheck_minutes * 60:
        return
    username = data.get("directory_user", "")
    actor = f"staff:{source}:{username}"[:120]
    try:
        person: DirectoryPerson | None
        if source == "ldap" and conf.ldap is not None:
            person = ldap_lookup(conf.ldap, username)
        elif source == "oidc" and conf.oidc is not None and data.get("refresh_token"):
            meta = discovery(rt, conf.oidc)
            try:
                body = token_request(
                    conf.oidc,
                    meta,
                    {"grant_type": "refresh_token", "refresh_token": data["refresh_token"]},
                )
                claims = verify_id_token(conf.oidc, meta, body["id_token"], None)
                person = person_from(conf.oidc, claims)
                if body.get("refresh_token"):
                    rt.redis.hset(key, "refresh_token", body["refresh_token"])
            except (PermissionError, KeyError):
                person = None
        else:
            person = None  # the directory is no longer configured
    except DirectoryDown as exc:
        # Keep the session (the absolute time-out still ends it); say so in the audit log.
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_directory_down",
                at=rt.clock(),
                actor=actor,
                during="recheck",
                why=str(exc)[:200],
            )
        return
    role = role_for(conf, person.groups) if person else None
    if role is Role.ADMIN and data.get("second_factor") != "1":
        role = Role.STAFF
    if role is None:
        rt.redis.delete(key)
        session.clear()
        with unit_of_work(rt.sessions) as s:
            audit(
                s,
                "staff_directory_revoked",
                at=rt.clock(),
                actor=actor,
                reason="removed from the directory or its groups",
            )
        return
    rt.redis.hset(key, mapping={"checked_at": time.time(), "role": role.value})
