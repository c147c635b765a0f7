"""The console for marketers at /app: server-rendered pages over the services, signed-cookie
sessions with roles, and a CSRF token on every form."""

from flask import Flask

from crm.config import Settings
from crm.web import access, assets, oidc, views


def init_app(app: Flask, settings: Settings) -> None:
    app.secret_key = settings.secret_key or None
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
    )
    access.init_app(app)
    oidc.init_app(app, settings)
    app.register_blueprint(assets.blp)
    app.register_blueprint(views.blp)
