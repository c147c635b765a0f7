"""``flask --app wsgi keys …`` and ``users …``: manage API keys and console users from a
shell on the server."""

import click

from crm.cli import DatabaseGroup
from crm.documents import ROLES
from crm.documents.api_key import SCOPES
from crm.services import api_keys, users
from crm.services.errors import DomainError

keys = DatabaseGroup("keys", help="Create, list and revoke API keys.")


@keys.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    default="admin",
    show_default=True,
    help="admin: everything, keys included; write: every other change; read: GET only.",
)
def create_key(name: str, scope: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    key, text = api_keys.create(name, scope)
    click.echo(f"{text}\n(key {key.id}, scope {scope}; use it as: Authorization: Bearer {text})")


@keys.command("list")
def list_keys() -> None:
    """List keys: id, name, scope, created, last used, revoked."""
    for key in api_keys.listing():
        click.echo(
            f"{key.id}  {key.name:<24} {key.effective_scope:<5}  "
            f"created {key.created_at:%Y-%m-%d %H:%M}  "
            f"last used {key.last_used_at or '-'}  revoked {key.revoked_at or '-'}"
        )


@keys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke the key with id KEY_ID (the last admin key stays)."""
    try:
        api_keys.revoke(key_id)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"revoked {key_id}")


users_group = DatabaseGroup(
    "users", help="Create and list console users (/app), and give one a new password."
)


@users_group.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="marketer",
    show_default=True,
    help="admin: users too; marketer: audiences and campaigns; viewer: reads only.",
)
def create_user(email: str, role: str) -> None:
    """Create a console user and print a generated password (the only time it is shown)."""
    try:
        user, password = users.create(email, role)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{password}\n(user {user.email}, role {role}; sign in at /app/sign-in)")


@users_group.command("reset-password")
@click.argument("email")
def reset_password(email: str) -> None:
    """Give a user a new generated password (printed this once, replaced at the next
    sign-in) and reactivate them: the way back in for an admin who lost theirs."""
    try:
        users.reactivate(email)
        user, password = users.reset_password(email)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{password}\n(user {user.email}, role {user.role}; sign in at /app/sign-in)")


@users_group.command("list")
def list_users() -> None:
    """List console users: e-mail, role, last sign-in, and whether deactivated."""
    for user in users.listing():
        line = f"{user.email:<40} {user.role:<8} last sign-in {user.last_signed_in_at or '-'}"
        click.echo(line + (f" deactivated {user.deactivated_at}" if user.deactivated_at else ""))
