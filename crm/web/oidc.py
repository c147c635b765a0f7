"""Signing in through an OpenID Connect provider (Google, …), when one is configured.

The authorization-code flow with PKCE, by Authlib's Flask client: the sign-in page's button
leads here, this redirects to the provider with a fresh ``state``, ``nonce`` and code
challenge (kept in the session), and the provider sends the browser back to the callback.
There the code is exchanged for an id_token, whose signature is checked against the
provider's published keys (JWKS) and whose issuer, audience, expiry and nonce are checked
too. Its e-mail address, if the provider verified it, names an existing console user; the
session is then the same as after a password sign-in. Nobody is ever created here.
"""

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, flash, redirect, request, session, url_for
from joserfc.errors import JoseError

from crm.config import Settings, oidc_configured
from crm.documents import User
from crm.services import users
from crm.web import sessions, throttle
from crm.web.blueprint import blp
from crm.web.sessions import sign_in_page
from crm.web.signin import DEACTIVATED, safe_next

TIMEOUT_SECONDS = 10
NEXT = "oidc_next"

log = logging.getLogger(__name__)


class Refused(Exception):
    """The provider's answer signs nobody in; the message says why, for the person."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message, self.status = message, status


def init_app(app: Flask, settings: Settings) -> None:
    if not oidc_configured(settings):
        return
    oauth = OAuth(app)
    oauth.register(
        "provider",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": "openid email",
            "code_challenge_method": "S256",
            "default_timeout": TIMEOUT_SECONDS,
        },
    )


def _provider() -> Any:
    oauth = current_app.extensions.get("authlib.integrations.flask_client")
    if oauth is None:
        abort(404)
    return oauth.provider


@blp.route("/sign-in/oidc")
def oidc_start():
    provider = _provider()
    session[NEXT] = request.args.get("next", "")
    try:
        return provider.authorize_redirect(url_for("console.oidc_callback", _external=True))
    except (requests.RequestException, RuntimeError) as error:
        return _refuse(_unreachable(error))


@blp.route("/sign-in/oidc/callback")
def oidc_callback():
    provider = _provider()
    if not throttle.reserve():
        return _refuse(Refused(throttle.refused_message(), 429))
    try:
        user = _verified_user(provider)
    except Refused as refused:
        if refused.status == 502:
            throttle.release()
        return _refuse(refused)
    throttle.release()
    next_page = session.get(NEXT)
    sessions.sign_in(user)
    return redirect(safe_next(next_page))


def _verified_user(provider: Any) -> User:
    settings = current_app.config["CRM_SETTINGS"]
    try:
        token = provider.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "value": settings.oidc_issuer},
                "aud": {"essential": True, "value": settings.oidc_client_id},
            }
        )
    except (AuthlibBaseError, JoseError) as error:
        claim = getattr(error, "claim", "")  # a claim's name, never its value
        log.warning("provider sign-in refused: %s %s", type(error).__name__, claim)
        message = "The sign-in with the provider could not be verified; try again."
        raise Refused(message, 401) from None
    except (requests.RequestException, RuntimeError) as error:
        raise _unreachable(error) from None
    claims = token.get("userinfo") or {}
    email = claims.get("email")
    if not email:
        log.warning("provider sign-in refused: no id_token or no e-mail in it")
        raise Refused("The provider did not say which e-mail address signed in.", 401)
    if claims.get("email_verified") not in (True, "true"):
        log.warning("provider sign-in refused: e-mail not verified")
        raise Refused(f"The provider has not verified {email}; verify it there first.", 403)
    try:
        user = users.sign_in_verified(email)
    except users.Deactivated:
        log.warning("provider sign-in refused: deactivated user")
        raise Refused(DEACTIVATED, 403) from None
    if user is None:
        log.warning("provider sign-in refused: no console user")
        message = f"No console user has the e-mail address {email}; ask an admin to add you."
        raise Refused(message, 403)
    return user


def _unreachable(error: Exception) -> Refused:
    # A network failure, or discovery without the endpoints the flow needs.
    log.warning("provider unreachable: %s", type(error).__name__)
    return Refused("The sign-in provider did not answer as expected; try again later.", 502)


def _refuse(refused: Refused):
    """The sign-in page with the reason. A session signed in before stays as it was, so a
    forged callback link cannot sign anyone out."""
    session.pop(NEXT, None)
    flash(refused.message, "danger")
    return sign_in_page("", ""), refused.status
