"""``flask --app wsgi keys …``: manage API keys from a shell on the server."""

import click

from crm.cli import DatabaseGroup
from crm.services import api_keys

keys = DatabaseGroup("keys", help="Create, list and revoke API keys.")


@keys.command("create")
@click.argument("name")
def create_key(name: str) -> None:
    """Create a key named NAME and print it (the only time it is shown)."""
    key, text = api_keys.create(name)
    click.echo(f"{text}\n(key {key.id}; use it as: Authorization: Bearer {text})")


@keys.command("list")
def list_keys() -> None:
    """List keys: id, name, created, last used, revoked."""
    for key in api_keys.listing():
        click.echo(
            f"{key.id}  {key.name:<24} created {key.created_at:%Y-%m-%d %H:%M}  "
            f"last used {key.last_used_at or '-'}  revoked {key.revoked_at or '-'}"
        )


@keys.command("revoke")
@click.argument("key_id")
def revoke_key(key_id: str) -> None:
    """Revoke the key with id KEY_ID."""
    api_keys.revoke(key_id)
    click.echo(f"revoked {key_id}")
