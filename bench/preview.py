"""Audience preview latency and database commands per preview, as customers grow.

    .venv/bin/python -m bench.preview                       # 1k and 10k customers
    .venv/bin/python -m bench.preview --sizes 10000 100000  # what docs/performance.md reports

Starts its own in-memory SecantusDB through ``devstack.embedded``, fills ``customers`` with
raw ``insert_many`` (order facts included, as ``crm.services.orders`` maintains them),
then times ``audiences.preview`` for three rule trees and counts the commands each sends.
"""

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bson import Decimal128
from pymongo import monitoring

from crm import config, db
from crm.clock import utcnow
from crm.services import audiences
from devstack import embedded

CITIES = ["Pune", "Delhi", "Mumbai", "Chennai", "Kolkata"]
TREES = {
    "1 rule": {"rules": [{"field": "total_spends", "operator": ">", "value": 45000}]},
    "5 rules, nested": {
        "logic": "AND",
        "rules": [
            {"field": "total_spends", "operator": ">", "value": 10000},
            {
                "logic": "OR",
                "rules": [
                    {"field": "visit_count", "operator": "<", "value": 3},
                    {"field": "last_visit_date", "operator": "older_than_days", "value": 90},
                ],
            },
            {
                "logic": "NOT",
                "rules": [
                    {"field": "attributes.city", "operator": "in", "value": ["pune", "delhi"]}
                    | {"ignore_case": True},
                    {"field": "email", "operator": "ends_with", "value": "@spam.example"},
                ],
            },
        ],
    },
    "order window": {
        "rules": [{"field": "orders.count", "operator": ">=", "value": 2, "within_days": 180}]
    },
}


class CommandCounter(monitoring.CommandListener):
    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def customer(i: int, pick: random.Random) -> dict:
    now = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    days = sorted(now - timedelta(days=pick.randrange(730)) for _ in range(pick.randrange(6)))
    history = [
        {"date": day, "amount": Decimal128(f"{pick.randrange(100, 5000)}.50")} for day in days
    ]
    document = {
        "customer_id": f"c{i:07}",
        "name": f"Customer {i}",
        "email": f"c{i}@{pick.choice(['example.com', 'spam.example'])}",
        "total_spends": Decimal128(str(pick.randrange(50_000))),
        "visit_count": pick.randrange(12),
        "last_visit_date": now - timedelta(days=pick.randrange(365)),
        "attributes": {"city": pick.choice(CITIES), "vip": pick.random() < 0.1},
        "created_at": now,
        "updated_at": now,
    }
    if history:
        document.update(order_history=history, first_order_date=days[0], last_order_date=days[-1])
    return document


def fill(collection, start: int, stop: int, pick: random.Random, batch: int = 5_000) -> None:
    for first in range(start, stop, batch):
        last = min(first + batch, stop)
        collection.insert_many([customer(i, pick) for i in range(first, last)], ordered=False)


def measure(tree: dict, counter: CommandCounter, repeat: int) -> tuple[int, float, int]:
    """Members, median milliseconds and commands per preview."""
    audiences.preview(tree)  # warm up
    timings, commands = [], set()
    for _ in range(repeat):
        counter.count = 0
        started = time.perf_counter()
        result = audiences.preview(tree)
        timings.append((time.perf_counter() - started) * 1000)
        commands.add(counter.count)
    (per_preview,) = commands
    return result["size"], statistics.median(timings), per_preview


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pick = random.Random(42)
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as scratch:
        port = embedded.free_port()
        server = embedded.start_mongo(port, ":memory:", Path(scratch) / "mongo.log")
        try:
            counter = CommandCounter()
            settings = config.load(mongodb_uri=f"mongodb://127.0.0.1:{port}/bench")
            collection = db.connect(settings, [counter]).get_database("bench").customers
            rows, loaded = [], 0
            for size in sorted(args.sizes):
                fill(collection, loaded, size, pick)
                loaded = size
                for name, tree in TREES.items():
                    members, millis, commands = measure(tree, counter, args.repeat)
                    rows.append((size, name, members, millis, millis / size * 1000, commands))
        finally:
            embedded.stop([server])
    print("| customers | rules | matching | median ms | ms per 1k customers | commands |")
    print("|---:|---|---:|---:|---:|---:|")
    for size, name, members, millis, per_thousand, commands in rows:
        print(
            f"| {size:,} | {name} | {members:,} | {millis:.0f} | {per_thousand:.1f} | {commands} |"
        )


if __name__ == "__main__":
    main()
