"""The library's staff directory, as the staff sign-in pages use it (``bridge.web.directory``).

- ``people``: a directory person, the role their groups map to, a directory that is down;
- ``ldap``: signing in with a password bind, and looking the person up again;
- ``oidc``: the OpenID Connect provider's metadata, token requests and ID token checks.
"""
