"""The dashboard's orders-and-revenue chart: time and database commands per visit, first
and later, as orders grow.

    .venv/bin/python -m bench.dashboard                    # 20,000 orders over a year
    .venv/bin/python -m bench.dashboard --orders 200000

Starts its own in-memory SecantusDB through ``devstack.embedded`` and inserts orders with
raw ``insert_many`` (as data from before the kept totals existed, so the first visit
counts every day), then calls ``timelines.orders_by_day`` three times, counting the
commands each visit sends.
"""

import argparse
import random
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bson import Decimal128
from pymongo import monitoring

from crm import config, db
from crm.clock import utcnow
from crm.documents import Order
from crm.services import timelines
from devstack import embedded

VISITS = ("first", "second", "third")


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def insert_orders(n: int, days: int) -> None:
    orders = Order._get_collection()
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(1)
    for start in range(0, n, 10_000):
        orders.insert_many(
            {
                "order_id": f"o{i}",
                "customer_id": f"c{i % 5000}",
                "order_amount": Decimal128(f"{rng.randrange(100, 100_000) / 100:.2f}"),
                "order_date": today - timedelta(days=rng.randrange(days)),
                "created_at": today,
            }
            for i in range(start, min(n, start + 10_000))
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=365, help="the orders' dates span this")
    args = parser.parse_args()
    port = embedded.free_port()
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-dashboard-"))
    mongo = embedded.start_mongo(port, ":memory:", workdir / "mongo.log")
    try:
        commands = Commands()
        settings = config.Settings(
            mongodb_uri=f"mongodb://127.0.0.1:{port}/dashboard", query_timeout_ms=600_000
        )
        db.connect(settings, [commands])
        db.ensure_indexes()
        insert_orders(args.orders, args.days)
        print(f"| visit ({args.orders:,} orders over {args.days} days) | seconds | commands |")
        print("|---|--:|--:|")
        for visit in VISITS:
            commands.sent = 0
            started = time.monotonic()
            timelines.orders_by_day()
            print(f"| {visit} | {time.monotonic() - started:.2f} | {commands.sent} |")
    finally:
        embedded.stop([mongo])


if __name__ == "__main__":
    main()
