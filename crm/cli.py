"""``flask --app wsgi import …`` and ``flask --app wsgi demo-data …``: bulk imports from a
shell, through the same pipeline as ``POST /api/{customers,orders}/bulk``."""

import time
from pathlib import Path
from typing import IO

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo, with_appcontext
from pymongo.errors import ConnectionFailure
from redis.exceptions import RedisError

from crm.documents import Customer, IngestionStatus
from crm.documents.ingestion import FORMATS
from crm.services import demo_data
from crm.services.errors import DomainError
from crm.services.ingestion import intake, jobs
from crm.services.ingestion.formats import Upload, detect
from crm.services.ingestion.kinds import KINDS

POLL_SECONDS = 0.5
# With no progress for this long, say that a worker may be missing.
QUIET_SECONDS = 30
SHOWN_REJECTIONS = 10


class _ReportsUnreachableDatabase:
    """A command that says in one line that MongoDB is out of reach, not in a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except ConnectionFailure:
            uri = ctx.ensure_object(ScriptInfo).load_app().config["CRM_SETTINGS"].mongodb_uri
            address = uri.split("://", 1)[-1].rsplit("@", 1)[-1].split("/", 1)[0]
            raise click.ClickException(
                f"MongoDB is unreachable at {address} (is `make run` running in this "
                "directory? otherwise set MONGODB_URI)"
            ) from None


class DatabaseCommand(_ReportsUnreachableDatabase, click.Command):
    pass


class DatabaseGroup(_ReportsUnreachableDatabase, AppGroup):
    pass


class _Counting:
    """A file that moves a progress bar as it is read."""

    def __init__(self, stream: IO[bytes], bar) -> None:
        self._stream, self._bar = stream, bar

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._bar.update(len(data))
        return data


@click.command("import", cls=DatabaseCommand)
@click.argument("kind", type=click.Choice(sorted(KINDS)))
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from the file name.")
@click.option("--wait/--no-wait", default=True, help="Follow the workers to the end (default).")
@with_appcontext
def import_command(kind: str, path: Path, fmt: str | None, wait: bool) -> None:
    """Import KIND (customers or orders) from the CSV, JSON or NDJSON file at PATH."""
    job = import_file(kind, path, fmt)
    if wait:
        job = follow(job)
    _summary(job)
    if job["status"] == IngestionStatus.FAILED:
        raise click.exceptions.Exit(1)


@click.command("demo-data", cls=DatabaseCommand)
@click.option("--customers", default=1000, show_default=True, help="How many customers.")
@click.option("--orders", default=4000, show_default=True, help="How many orders.")
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/demo"),
    show_default=True,
    help="Where customers.csv and orders.csv go.",
)
@click.option("--load", is_flag=True, help="Then import both files, waiting for the workers.")
@click.option("--if-empty", is_flag=True, help="Do nothing if there are customers already.")
@with_appcontext
def demo_data_command(
    customers: int, orders: int, seed: int, out: Path, load: bool, if_empty: bool
) -> None:
    """Write realistic demo customers and orders as CSV, and optionally import them."""
    if if_empty and Customer.objects.first() is not None:
        click.echo("There are customers already; no demo data added.")
        return
    out.mkdir(parents=True, exist_ok=True)
    files = {"customers": out / "customers.csv", "orders": out / "orders.csv"}
    with files["customers"].open("w", encoding="utf-8", newline="") as file:
        demo_data.write_csv(file, demo_data.customers(customers, seed), demo_data.CUSTOMER_COLUMNS)
    with files["orders"].open("w", encoding="utf-8", newline="") as file:
        rows = demo_data.orders(orders, customers, seed)
        demo_data.write_csv(file, rows, demo_data.ORDER_COLUMNS)
    click.echo(f"Wrote {customers:,} customers to {files['customers']}")
    click.echo(f"Wrote {orders:,} orders to {files['orders']}")
    if load:
        for kind, path in files.items():
            _summary(follow(import_file(kind, path, "csv")))


def import_file(kind: str, path: Path, fmt: str | None) -> dict:
    """Read, validate and queue the file, with a progress bar on a terminal."""
    settings = current_app.config["CRM_SETTINGS"]
    from crm.queue.handles import enqueue_import_chunk  # imports the broker: only when needed

    with (
        path.open("rb") as file,
        click.progressbar(length=path.stat().st_size, label=f"Reading {path.name}") as bar,
    ):
        upload = Upload(_Counting(file, bar), detect(None, path.name, fmt))
        try:
            job = intake.receive(
                KINDS[kind],
                upload,
                enqueue_import_chunk,
                settings.ingest_chunk_size,
                path.name,
                chunk_bytes=settings.ingest_chunk_bytes,
            )
        except DomainError as error:
            raise click.ClickException(f"{path}: {error.message}") from None
        except RedisError as error:
            raise click.ClickException(f"The queue is unreachable: {error}") from None
    report = jobs.report(job)
    counts = report["counts"]
    click.echo(
        f"Ingestion {report['id']}: {counts['received']:,} records, {counts['valid']:,} valid, "
        f"{counts['rejected']:,} rejected; chunks queued: {report['progress']['chunks']}."
    )
    return report


def follow(report: dict) -> dict:
    """Poll the job until it is DONE or FAILED, moving a bar over its chunks."""
    done = report["progress"]["chunks_done"]
    quiet_since = time.monotonic()
    with click.progressbar(length=report["progress"]["chunks"], label="Applying") as bar:
        bar.update(done)
        while report["status"] not in (IngestionStatus.DONE, IngestionStatus.FAILED):
            time.sleep(POLL_SECONDS)
            report = jobs.report(jobs.get(report["id"]))
            progress = report["progress"]["chunks_done"] - done
            if progress:
                bar.update(progress)
                done, quiet_since = done + progress, time.monotonic()
            elif time.monotonic() - quiet_since > QUIET_SECONDS:
                click.echo("\nNo progress: is a worker running (dramatiq workers)?", err=True)
                quiet_since = time.monotonic()
    return report


def _summary(report: dict) -> None:
    counts = report["counts"]
    click.echo(f"{report['kind']} import {report['id']}: {report['status']}")
    click.echo("  " + ", ".join(f"{name} {count:,}" for name, count in counts.items()))
    if report["error"]:
        click.echo(f"  error: {report['error']}")
    for rejection in report["rejections"][:SHOWN_REJECTIONS]:
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in rejection["errors"])
        click.echo(f"  row {rejection['row']}: {reasons}")
    if counts["rejected"] > SHOWN_REJECTIONS:
        click.echo(f"  … see GET /api/ingestions/{report['id']} for up to 100 rejected rows")


def register(app) -> None:
    app.cli.add_command(import_command)
    app.cli.add_command(demo_data_command)
