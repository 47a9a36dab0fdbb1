"""Staff sign-in against the library's directory: LDAP and OpenID Connect, besides local accounts.

- LDAP (``[directory.ldap]``, the ``ldap3`` package): the person's DN comes from
  ``user_dn_template`` or a search as ``bind_dn``; a bind with the password proves it; the
  groups whose ``group_filter`` matches the DN give the role (``[directory.roles]``, highest
  wins). Page: ``/staff/directory/ldap``.
- OpenID Connect (``[directory.oidc]``): authorization code flow with PKCE (RFC 7636, S256),
  ``state`` and ``nonce``; the ID token is verified (RS256/ES256) against the provider's JWKS,
  issuer and audience. Groups come from ``groups_claim``. Pages: ``/staff/directory/oidc/...``.

A directory person gets a shadow account ``ldap:<name>`` / ``oidc:<name>`` in ``staff_user``
(no usable password, so it can never sign in locally) and an ordinary staff session, marked as
coming from the directory. On a session refresh, at most every ``recheck_minutes``, the person
is looked up again (LDAP search as ``bind_dn``; OIDC refresh-token grant): removed from the
directory or from every mapped group ends the session at once; a changed group changes the
role. Admin rights need a second factor: an OIDC provider saying so in ``amr`` (``mfa``,
``otp``, ``hwk``); otherwise a directory admin gets the staff role.

A directory that is down: a clear message, an audit event, and local sign-in keeps working.

- ``pages``: the sign-in pages (``/staff/directory/...``) and their registration;
- ``sessions``: a directory person's shadow account and session, and its re-check;
- the directory itself (LDAP, OpenID Connect, the role of a person's groups):
  ``bridge.services.staff.directory``.
"""
