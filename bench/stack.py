"""The real stack for benches that measure it from outside: the gunicorn API, a Dramatiq
worker and the vendor simulator as ``make run`` starts them, on a SecantusDB (in memory)
and a redis-server of the bench's own; and what the benches read it with.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pymongo import MongoClient, monitoring

from bench.send import servers
from devstack import embedded
from devstack.stack import start_services


@dataclass
class Running:
    api_url: str
    vendor_url: str
    mongodb_uri: str
    key: str
    workdir: Path
    database: Any  # pymongo Database, for seeding and explain

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@contextmanager
def running(env: dict[str, str] | None = None) -> Iterator[Running]:
    """The stack on free ports, with an admin API key; its logs under a temporary
    directory (kept when the bench fails, named in the exception's notes)."""
    from crm import config, db
    from crm.services import api_keys

    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-stack-"))
    with servers() as (mongodb_uri, redis_url):
        settings = replace(config.load(), mongodb_uri=mongodb_uri, redis_url=redis_url)
        db.connect(settings)
        db.ensure_indexes()  # before any data, as a deployment's `flask db indexes`
        key = api_keys.create("bench", "admin")[1]
        api_port, vendor_port = embedded.free_port(), embedded.free_port()
        environment = {
            **os.environ,
            "CRM_MONGODB_URI": mongodb_uri,
            "CRM_REDIS_URL": redis_url,
            "CRM_RECEIPT_SIGNING_SECRET": "bench-receipt-signing",
            "CRM_SECRET_KEY": "bench-console-session",
            **(env or {}),
        }
        processes = start_services(environment, api_port, vendor_port, workdir)
        client: MongoClient = MongoClient(mongodb_uri)
        try:
            yield Running(
                f"http://127.0.0.1:{api_port}",
                f"http://127.0.0.1:{vendor_port}",
                mongodb_uri,
                key,
                workdir,
                client.get_database(),
            )
        except BaseException as error:
            error.add_note(f"the stack's logs: {workdir}")
            raise
        finally:
            client.close()
            embedded.stop(list(processes.values()))
    shutil.rmtree(workdir, ignore_errors=True)


class Reads(monitoring.CommandListener):
    """The read commands (find, aggregate, count) an in-process app sends."""

    NAMES = ("find", "aggregate", "count")

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name in self.NAMES:
            kept = ("lsid", "$db", "$clusterTime", "$readPreference", "maxTimeMS")
            self.commands.append({k: v for k, v in event.command.items() if k not in kept})

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@dataclass
class Examined:
    docs: int
    keys: int
    returned: int
    plan: str


def explain(database: Any, command: dict[str, Any]) -> Examined:
    """What the server reads to run ``command`` (``explain`` with ``executionStats``)."""
    answer = database.command("explain", command, verbosity="executionStats")
    stats = answer["executionStats"]
    winning = answer["queryPlanner"]["winningPlan"]
    return Examined(
        stats["totalDocsExamined"],
        stats["totalKeysExamined"],
        stats["nReturned"],
        "+".join(reversed(list(_stages(winning)))),
    )


def _stages(plan: dict[str, Any]) -> Iterator[str]:
    yield plan["stage"]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            yield from _stages(child)
