"""``flask --app wsgi db indexes``, ``flask --app wsgi db rebuild-order-facts`` and
``flask --app wsgi attributes rebuild``: upkeep of the database, run from a shell on
the server."""

import click

from crm import db
from crm.cli import DatabaseGroup
from crm.clock import utcnow
from crm.services import attribute_keys, order_facts

database = DatabaseGroup("db", help="The database's indexes and derived data.")

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


@database.command("indexes")
def indexes() -> None:
    """Create missing indexes, drop superseded ones, and list each collection's indexes.

    Run it when deploying a version that declares new indexes, before it serves: an
    index is then built here rather than by the first request that needs it."""
    for collection, found in db.migrate_indexes().items():
        changes = [f"+{name}" for name in found["created"]]
        changes += [f"-{name}" for name in found["dropped"]]
        click.echo(f"{collection}: {', '.join(found['indexes']) or '(no collection yet)'}")
        if changes:
            click.echo(f"  changed: {' '.join(changes)}")


@database.command("rebuild-order-facts")
@click.option("--batch-size", default=500, show_default=True, help="Customers per batch.")
@click.option("--restart", is_flag=True, help="Start again instead of resuming a rebuild.")
def rebuild_order_facts(batch_size: int, restart: bool) -> None:
    """Recompute every customer's order facts (per-day buckets and totals) from its orders,
    removing the former order_history; resumes an interrupted run, and a second run
    changes nothing."""
    read = order_facts.rebuild(
        utcnow(), batch_size, restart, lambda n: click.echo(f"\r{n:,} customers read", nl=False)
    )
    click.echo(f"\rRebuilt the order facts of {read:,} customers.")


def register(app) -> None:
    app.cli.add_command(database)
    app.cli.add_command(attributes)
