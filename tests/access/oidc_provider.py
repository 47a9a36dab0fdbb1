"""A small OpenID Connect provider for the tests: discovery, JWKS, authorize (signs the chosen
person in at once), token (authorization code with PKCE S256, refresh token), RS256 ID tokens."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, redirect, request
from werkzeug.serving import make_server

CLIENT_ID = "lockerbridge-staff"


class Provider:
    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sign_with_rogue_key = False
        self.groups: dict[str, list[str]] = {}  # person -> groups; absent: removed
        self.person = ""
        self.amr = ["pwd"]
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh: dict[str, str] = {}
        app = Flask("test-oidc-provider")
        app.add_url_rule("/.well-known/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/jwks", view_func=self._jwks)
        app.add_url_rule("/authorize", view_func=self._authorize)
        app.add_url_rule("/token", view_func=self._token, methods=["POST"])
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def _discovery(self) -> Any:
        return jsonify(
            issuer=self.issuer,
            authorization_endpoint=f"{self.issuer}/authorize",
            token_endpoint=f"{self.issuer}/token",
            jwks_uri=f"{self.issuer}/jwks",
            response_types_supported=["code"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    def _jwks(self) -> Any:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="k1", use="sig", alg="RS256")
        return jsonify(keys=[jwk])

    def _authorize(self) -> Any:
        args = request.args
        assert args["response_type"] == "code" and args["code_challenge_method"] == "S256"
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "client_id": args["client_id"],
            "redirect_uri": args["redirect_uri"],
            "challenge": args["code_challenge"],
            "nonce": args["nonce"],
            "person": self.person,
        }
        query = urlencode({"code": code, "state": args["state"]})
        return redirect(f"{args['redirect_uri']}?{query}")

    def _id_token(self, person: str, nonce: str | None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": f"id-{person}",
            "preferred_username": person,
            "groups": self.groups[person],
            "amr": self.amr,
            "iat": now,
            "exp": now + 300,
        }
        if nonce:
            claims["nonce"] = nonce
        key = self.rogue_key if self.sign_with_rogue_key else self.key
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

    def _token(self) -> Any:
        form = request.form
        if form.get("grant_type") == "refresh_token":
            person = self._refresh.get(form.get("refresh_token", ""), "")
            if person not in self.groups:
                return jsonify(error="invalid_grant"), 400
            return jsonify(id_token=self._id_token(person, None), token_type="Bearer")
        grant = self._codes.pop(form.get("code", ""), None)
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or grant["redirect_uri"] != form.get("redirect_uri")
            or grant["client_id"] != form.get("client_id")
            or challenge.rstrip(b"=").decode() != grant["challenge"]
        ):
            return jsonify(error="invalid_grant"), 400
        refresh = secrets.token_urlsafe(16)
        self._refresh[refresh] = grant["person"]
        return jsonify(
            id_token=self._id_token(grant["person"], grant["nonce"]),
            access_token=secrets.token_urlsafe(16),
            refresh_token=refresh,
            token_type="Bearer",
        )
