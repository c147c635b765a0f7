"""``flask --app wsgi attributes rebuild``: upkeep of what the database keeps beside the
customers, run from a shell on the server."""

import click

from crm.cli import DatabaseGroup
from crm.services import attribute_keys

attributes = DatabaseGroup("attributes", help="The catalogue of custom attribute keys.")


@attributes.command("rebuild")
@click.option("--batch-size", default=1000, show_default=True, help="Customers per batch.")
@click.option("--restart", is_flag=True, help="Start again instead of resuming a rebuild.")
def rebuild_attributes(batch_size: int, restart: bool) -> None:
    """Fill the attribute key catalogue from every customer; resumes an interrupted run."""
    read = attribute_keys.rebuild(
        batch_size, restart, lambda n: click.echo(f"\r{n:,} customers read", nl=False)
    )
    keys = len(attribute_keys.listing())
    click.echo(f"\rRebuilt from {read:,} customers: {keys:,} attribute keys.")


def register(app) -> None:
    app.cli.add_command(attributes)
