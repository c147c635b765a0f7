"""Requests a second and latency of the API's main routes at concurrency 1, 8 and 32,
beside a route that does nothing (``/health/live``), and list pages at 1,000 customers
against the same pages at many more.

Runs the real stack (``bench.stack``: gunicorn with ``make run``'s 2 processes of 4
threads, a worker, the vendor simulator) on an in-memory SecantusDB. Customers are
seeded with raw ``insert_many`` in the stored form (a bulk import of 100,000 takes
minutes; what is measured here is reading and writing them one request at a time):
first 1,000, whose list pages are timed at concurrency 1; then up to ``--customers``,
and every route at every concurrency for ``--seconds`` each. The client is this
process: a thread per concurrent client, each with its own ``requests.Session``
(keep-alive), so on a small machine the client's own CPU is part of every figure; the
trivial route's rate is the ceiling the stack and client reach together.

    .venv/bin/python -m bench.load                       # 100,000 customers, 10 s a cell
    .venv/bin/python -m bench.load --customers 10000 --seconds 5

On SecantusDB a list page reads every index key and document after its cursor (and the
unfiltered total counts the collection): at 100,000 customers one page takes longer than
the 5 s query limit, so those cells are errors, each taking tens of seconds.
"""

import argparse
import itertools
import logging
import random
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import requests
from bson import Decimal128

from bench.stack import Running, explain, running

log = logging.getLogger("bench.load")

CONCURRENCY = (1, 8, 32)
TIMEOUT = 60  # seconds a call may take before it counts as an error
CALLS = itertools.count()  # numbers every call, so each created customer is new
# An indexed rule matching about 0.2% of the seeded customers.
INDEXED_RULE = {"rules": [{"field": "total_spends", "operator": ">", "value": 49_900}]}


class TimedSession(requests.Session):
    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(*args, **kwargs)


@dataclass
class Cell:
    route: str
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)  # every answer's, errors too
    errors: int = 0  # 4xx, 5xx or no answer

    @property
    def rate(self) -> float:
        """Answers without an error, a second."""
        return (len(self.latencies_ms) - self.errors) / self.seconds

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


def seed(database: Any, start: int, stop: int, pick: random.Random) -> None:
    from crm.clock import utcnow

    now = utcnow()
    for first in range(start, stop, 10_000):
        database.customers.insert_many(
            {
                "customer_id": f"c{i:07}",
                "name": f"Customer {i}",
                "email": f"c{i}@example.com",
                "total_spends": Decimal128(str(pick.randrange(50_000))),
                "visit_count": pick.randrange(12),
                "last_visit_date": now - timedelta(days=pick.randrange(365)),
                "attributes": {"tier": pick.choice(["gold", "silver"])},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(first, min(first + 10_000, stop))
        )


Call = Callable[[requests.Session, int, int], requests.Response]


def routes(stack: Running, customers: int) -> dict[str, Call]:
    from crm.services.pages import BY_CUSTOMER_ID

    api = stack.api_url
    middle = BY_CUSTOMER_ID.cursor(SimpleNamespace(customer_id=f"c{customers // 2:07}"))
    # Lists last: on SecantusDB their calls outlive a cell (see above).
    return {
        "GET /health/live (trivial)": lambda http, t, n: http.get(f"{api}/health/live"),
        "fetch one customer": lambda http, t, n: http.get(
            f"{api}/api/customers/c{(t * 7919 + n * 104_729) % customers:07}"
        ),
        "create a customer": lambda http, t, n: http.post(
            f"{api}/api/customers",
            json={"customer_id": f"load-{t}-{n}", "name": "Load", "email": f"l{t}.{n}@ex.com"},
        ),
        "preview, indexed rule": lambda http, t, n: http.post(
            f"{api}/api/audiences/preview", json=INDEXED_RULE
        ),
        "list, first page (50)": lambda http, t, n: http.get(f"{api}/api/customers?page_size=50"),
        "list, keyset page (50, halfway)": lambda http, t, n: http.get(
            f"{api}/api/customers?page_size=50&after={middle}"
        ),
    }


def hammer(stack: Running, route: str, call: Call, concurrency: int, seconds: float) -> Cell:
    """``concurrency`` clients calling ``call`` back to back for ``seconds``."""
    cell = Cell(route, concurrency, seconds)
    lock, barrier = threading.Lock(), threading.Barrier(concurrency + 1)
    deadline = 0.0

    def client(thread: int) -> None:
        latencies, errors = [], 0
        with TimedSession() as http:
            http.headers.update(stack.auth)
            barrier.wait()
            while (started := time.perf_counter()) < deadline:
                try:
                    ok = call(http, thread, next(CALLS)).status_code < 400
                except requests.RequestException:
                    ok = False
                latencies.append((time.perf_counter() - started) * 1000)
                errors += not ok
        with lock:
            cell.latencies_ms += latencies
            cell.errors += errors

    threads = [threading.Thread(target=client, args=(t,)) for t in range(concurrency)]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    # Calls started before the deadline are waited for: the rate is over the whole time.
    cell.seconds = time.perf_counter() - started
    log.info(
        "%s, concurrency %d: %.1f req/s, %d errors", route, concurrency, cell.rate, cell.errors
    )
    settle(stack)
    return cell


def settle(stack: Running, quick_ms: float = 100, patience: float = 300) -> None:
    """Wait until the API answers a call that reads the database quickly again: a call the
    client gave up on may still run on the server (SecantusDB checks ``maxTimeMS`` late)."""
    deadline = time.monotonic() + patience
    with TimedSession() as http:
        http.headers.update(stack.auth)
        while time.monotonic() < deadline:
            started = time.perf_counter()
            http.get(f"{stack.api_url}/api/customers/c0000000")
            if (time.perf_counter() - started) * 1000 < quick_ms:
                return
            time.sleep(1)


def table(cells: list[Cell]) -> str:
    trivial = {c.concurrency: c.rate for c in cells if c.route.endswith("(trivial)")}
    rows = [
        "| route | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors | req/s ÷ trivial |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for c in cells:
        rows.append(
            f"| {c.route} | {c.concurrency} | {c.rate:,.1f} | {c.percentile(50):,.0f} "
            f"| {c.percentile(95):,.0f} | {c.percentile(99):,.0f} | {c.errors} "
            f"| {c.rate / trivial[c.concurrency]:.2f} |"
        )
    return "\n".join(rows)


def page_reads(stack: Running, customers: int) -> dict[str, str]:
    """Keys and documents the server examines for each list page's commands: the page's
    ``find`` and the unfiltered total's ``count`` (``estimatedDocumentCount``)."""
    page = {"find": "customers", "sort": {"customer_id": 1}, "limit": 51}
    after = {"customer_id": {"$gt": f"c{customers // 2:07}"}}
    count = explain(stack.database, {"count": "customers"})
    found = {}
    for route, query in (("first page", {}), ("keyset page", after)):
        read = explain(stack.database, {**page, "filter": query})
        found[route] = f"find {read.keys:,} keys / {read.docs:,} docs, count {count.docs:,} docs"
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("crm").setLevel(logging.WARNING)
    pick = random.Random(7)
    with running() as stack:
        seed(stack.database, 0, args.small, pick)
        lists = {name: call for name, call in routes(stack, args.small).items() if "list" in name}
        small = [hammer(stack, name, call, 1, args.seconds) for name, call in lists.items()]
        small_reads = page_reads(stack, args.small)
        log.info("seeding up to %d customers", args.customers)
        seed(stack.database, args.small, args.customers, pick)
        cells = [
            hammer(stack, name, call, concurrency, args.seconds)
            for name, call in routes(stack, args.customers).items()
            for concurrency in CONCURRENCY
        ]
        large_reads = page_reads(stack, args.customers)
    print(table(cells))
    print()
    print(
        f"| list page, concurrency 1 | p50 ms at {args.small:,} | read at {args.small:,} "
        f"| p50 ms at {args.customers:,} | errors | read at {args.customers:,} |"
    )
    print("|---|--:|---|--:|--:|---|")
    for before in small:
        after = next(c for c in cells if c.route == before.route and c.concurrency == 1)
        kind = "first page" if "first" in before.route else "keyset page"
        print(
            f"| {before.route} | {before.percentile(50):,.0f} | {small_reads[kind]} "
            f"| {after.percentile(50):,.0f} | {after.errors} | {large_reads[kind]} |"
        )


if __name__ == "__main__":
    main()
