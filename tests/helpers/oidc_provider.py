"""A small OpenID Connect provider for the console's sign-in tests, served over real HTTP.

It implements discovery, ``/authorize`` (approving ``claims`` at once, as a provider does
for a user already signed in there), ``/token`` (the authorization-code grant with client
secret and PKCE checked; an RS256 id_token signed with a key made at start) and ``/jwks``.
A test makes it misbehave through ``change`` (claims the id_token gets instead of the
right ones) and ``tamper_signature`` (the payload altered after signing).
"""

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "crm-console"
CLIENT_SECRET = "provider-secret"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "signing-1", "use": "sig"})
        self.claims: dict[str, Any] = {}
        self.change: dict[str, Any] = {}
        self.tamper_signature = False
        self._codes: dict[str, dict[str, str]] = {}

    def reset(self, email: str) -> None:
        self.claims = {"sub": f"sub-{secrets.token_hex(4)}", "email": email, "email_verified": True}
        self.change, self.tamper_signature = {}, False

    def app(self) -> Flask:
        app = Flask(__name__)
        app.add_url_rule("/.well-known/openid-configuration", view_func=self._discovery)
        app.add_url_rule("/authorize", view_func=self._authorize)
        app.add_url_rule("/token", view_func=self._token, methods=["POST"])
        app.add_url_rule("/jwks", view_func=self._jwks)
        return app

    def _discovery(self):
        issuer = request.url_root.rstrip("/")
        return jsonify(
            issuer=issuer,
            authorization_endpoint=f"{issuer}/authorize",
            token_endpoint=f"{issuer}/token",
            jwks_uri=f"{issuer}/jwks",
            response_types_supported=["code"],
            subject_types_supported=["public"],
            id_token_signing_alg_values_supported=["RS256"],
            code_challenge_methods_supported=["S256"],
        )

    def _authorize(self):
        args = request.args
        if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
            abort(400)
        if args.get("code_challenge_method") != "S256" or "openid" not in args["scope"].split():
            abort(400)
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "nonce": args["nonce"],
            "redirect_uri": args["redirect_uri"],
            "challenge": args["code_challenge"],
        }
        query = urlencode({"code": code, "state": args["state"]})
        return redirect(f"{args['redirect_uri']}?{query}")

    def _token(self):
        form, auth = request.form, request.authorization
        if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
            return jsonify(error="invalid_client"), 401
        grant = self._codes.pop(form.get("code", ""), None)  # a code is good once
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if (
            grant is None
            or form.get("redirect_uri") != grant["redirect_uri"]
            or challenge.decode() != grant["challenge"]
        ):
            return jsonify(error="invalid_grant"), 400
        return jsonify(
            access_token=secrets.token_urlsafe(16),
            token_type="Bearer",
            expires_in=3600,
            id_token=self._id_token(grant["nonce"]),
        )

    def _id_token(self, nonce: str) -> str:
        now = int(time.time())
        claims = {
            "iss": request.url_root.rstrip("/"),
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            **self.claims,
            **self.change,
        }
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        if self.tamper_signature:  # the same claims but another subject, the old signature
            header, _, signature = token.split(".")
            forged = jwt.encode({"alg": "RS256"}, {**claims, "sub": "someone-else"}, self.key)
            token = ".".join((header, forged.split(".")[1], signature))
        return token

    def _jwks(self):
        return jsonify(keys=[self.key.as_dict(private=False)])
