"""Console sessions: signed cookies holding who signed in, when, and the user's session
epoch then. A session holds while the epoch is unchanged (signing out, deactivation and
a new role or password change it), for ``session_idle_minutes`` between requests and
``session_max_hours`` in all."""

import secrets
import time
from collections.abc import Iterable

from flask import current_app, render_template, session

from crm.config import Settings, oidc_configured
from crm.documents import User
from crm.services import users

# The idle mark moves at most once a minute, so that most answers set no cookie.
SEEN_STEP_SECONDS = 60


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def sign_in(user: User) -> None:
    session.clear()  # a fresh session (and token) on signing in
    now = time.time()
    session.update(user_id=str(user.id), epoch=user.session_epoch, signed_in_at=now, seen_at=now)
    csrf_token()


def current_user() -> User | None:
    """The user this session signed in, while the session holds; otherwise None, and the
    session is emptied."""
    user_id = session.get("user_id")
    if not user_id:
        return None
    user = users.get(user_id)
    now = time.time()
    if user is None or user.deactivated_at or session.get("epoch") != user.session_epoch:
        session.clear()
        return None
    if _expired(_settings(), now):
        session.clear()
        return None
    if now - session["seen_at"] >= SEEN_STEP_SECONDS:
        session["seen_at"] = now
    return user


def _expired(settings: Settings, now: float) -> bool:
    idle = now - session.get("seen_at", 0)
    age = now - session.get("signed_in_at", 0)
    return idle >= settings.session_idle_minutes * 60 or age >= settings.session_max_hours * 3600


def sign_in_page(email: str, next_page: str, kept: Iterable[tuple[str, str]] = ()) -> str:
    """The sign-in form, with the provider's button when one is configured; ``kept``: the
    fields of a form posted after its session ended, carried through signing in."""
    settings = _settings()
    provider = settings.oidc_label if oidc_configured(settings) else None
    return render_template(
        "sign_in.html", email=email, next=next_page, provider=provider, kept=list(kept)
    )


def _settings() -> Settings:
    return current_app.config["CRM_SETTINGS"]
