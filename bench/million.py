"""What reads and a send cost once 1,000,000 customers and 2,000,000 orders are in.

Runs the real stack (``bench.stack``: gunicorn API, a Dramatiq worker with 2 threads, the
vendor simulator) on an in-memory SecantusDB, and imports demo customers (CSV) then
orders (NDJSON) through ``POST /api/customers/bulk`` and ``/api/orders/bulk``, the
documented import path, one upload each (the upload limit is raised for it). Then, for
each operation: its status and median time over HTTP, and what the server read for it —
the request is replayed in-process through the same app with a ``CommandListener``, and
each read command it sent is run again under ``explain`` (``executionStats``):

- previews: an indexed rule, an unindexed one (a scan, against the 5 s limit), an
  order-window rule;
- list pages: the first, a keyset page three quarters deep, and numbered page 200;
- ``GET /api/audiences/fields``;
- a campaign to 100,000 members sent to COMPLETED through the vendor simulator, with the
  MongoDB commands it took counted by the server's profiler (level 2, during the send).

    .venv/bin/python -m bench.million                                  # 1M and 2M
    .venv/bin/python -m bench.million --customers 100000 --orders 200000
    .venv/bin/python -m bench.million --raw        # 1M customers inserted in stored form

``--raw`` skips the import (on a busy 2-core machine, 3M records take hours): customers are
inserted with ``insert_many`` as the import stores them, with order facts for 0 to 5 orders
each on days of the past year (2.3 per customer on average) and the attribute catalogue, but no
``orders`` documents; the reads measured here touch only customers and the catalogue.

Each result is logged as it comes and the table printed at the end.
"""

import argparse
import json
import logging
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
from bson import Decimal128

from bench.ingest import write_files
from bench.stack import Examined, Reads, Running, explain, running

log = logging.getLogger("bench.million")

MESSAGE = "Hi {{name}}, here's 10% off on your next order!"
PREVIEWS = {
    "preview, indexed rule (total_spends > 50,000)": {
        "rules": [{"field": "total_spends", "operator": ">", "value": 50000}]
    },
    "preview, unindexed rule (name contains zz)": {
        "rules": [{"field": "name", "operator": "contains", "value": "zz"}]
    },
    "preview, order window (≥ 2 orders in 30 days)": {
        "rules": [{"field": "orders.count", "operator": ">=", "value": 2, "within_days": 30}]
    },
}
# C0000000 … C0099999: the first 100,000 customers, by an indexed prefix.
CAMPAIGN_RULES = [{"field": "customer_id", "operator": "starts_with", "value": "C00"}]


@dataclass
class Measured:
    operation: str
    status: str  # each status the runs got
    median_ms: float
    answered: str  # members matched, or items listed
    reads: list[Examined]

    def row(self) -> str:
        docs = sum(r.docs for r in self.reads)
        keys = sum(r.keys for r in self.reads)
        plans = ", ".join(r.plan for r in self.reads) or "none"
        return (
            f"| {self.operation} | {self.status} | {self.answered} | {self.median_ms:,.0f} "
            f"| {len(self.reads)} "
            f"| {keys:,} | {docs:,} | {plans} |"
        )


class Replayer:
    """The same requests, in this process, to capture the read commands they send."""

    def __init__(self, stack: Running):
        from crm import config, create_app, db

        self.reads = Reads()
        settings = replace(
            config.load(), mongodb_uri=stack.mongodb_uri, secret_key="bench-console-session"
        )
        self.client = create_app(settings).test_client()
        db.connect(settings, [self.reads])
        self.auth = stack.auth

    def commands(self, method: str, path: str, body: Any = None) -> list[dict[str, Any]]:
        self.reads.commands.clear()
        self.client.open(path, method=method, json=body, headers=self.auth)
        on_data = ("customers", "orders", "attribute_keys")
        return [c for c in self.reads.commands if next(iter(c.values())) in on_data]


def measure(
    stack: Running, replayer: Replayer, name: str, method: str, path: str, body: Any = None
) -> Measured:
    timings, statuses = [], set()
    with requests.Session() as http:
        for _ in range(3):
            started = time.perf_counter()
            response = http.request(
                method, stack.api_url + path, json=body, headers=stack.auth, timeout=600
            )
            timings.append((time.perf_counter() - started) * 1000)
            statuses.add(response.status_code)
    status = "/".join(str(code) for code in sorted(statuses))
    answer = response.json() if response.status_code == 200 else None
    if isinstance(answer, dict) and "size" in answer:
        answered = f"{answer['size']:,} members"
    elif isinstance(answer, list):
        answered = f"{len(answer)} items"
    elif isinstance(answer, dict):
        answered = f"{len(answer.get('attributes', []))} attribute keys"
    else:
        answered = ""
    reads = [explain(stack.database, command) for command in replayer.commands(method, path, body)]
    result = Measured(name, status, statistics.median(timings), answered, reads)
    log.info("%s", result.row())
    return result


def import_file(stack: Running, kind: str, path: Path, timeout: float) -> dict[str, Any]:
    content_type = "text/csv" if path.suffix == ".csv" else "application/x-ndjson"
    started = time.perf_counter()
    with path.open("rb") as body:
        response = requests.post(
            f"{stack.api_url}/api/{kind}/bulk",
            data=body,
            headers={**stack.auth, "Content-Type": content_type},
            timeout=timeout,
        )
    response.raise_for_status()
    accepted = time.perf_counter() - started
    job = response.json()
    deadline = time.monotonic() + timeout
    while job["status"] not in ("DONE", "FAILED"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} import still {job['status']}")
        time.sleep(2)
        job = requests.get(
            f"{stack.api_url}/api/ingestions/{job['id']}", headers=stack.auth, timeout=60
        ).json()
        log.info("%s: %s %s", kind, job["status"], job.get("progress"))
    seconds = time.perf_counter() - started
    assert job["status"] == "DONE", job
    counts = job["counts"]
    log.info("%s: %s in %.0f s (202 after %.0f s)", kind, counts, seconds, accepted)
    return {"kind": kind, "seconds": seconds, "accepted": accepted, "counts": counts}


def insert_raw(stack: Running, customers: int, batch: int = 5_000) -> dict[str, Any]:
    """Demo customers in their stored form, with order facts, by ``insert_many``."""
    from crm.clock import utcnow
    from crm.services import demo_data, order_facts
    from crm.services.customers import DEFAULTS
    from crm.services.ingestion.kinds import CUSTOMERS

    pick, now, started = random.Random(3), utcnow(), time.perf_counter()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rows = demo_data.customers(customers)
    for first in range(0, customers, batch):
        documents = []
        for row in (next(rows) for _ in range(min(batch, customers - first))):
            extra = {"city": row.pop("city"), "channel": row.pop("channel")}
            loaded = CUSTOMERS.schema.load({**row, "attributes": extra})
            document = CUSTOMERS.to_document(CUSTOMERS.to_message(loaded))
            placed = [
                {
                    "order_date": today - timedelta(days=pick.randrange(365)),
                    "order_amount": Decimal128(f"{pick.randrange(100, 5000)}.50"),
                }
                for _ in range(pick.choice((0, 1, 1, 2, 2, 3, 3, 4, 5)))
            ]
            documents.append({**DEFAULTS, **document, **facts(placed, order_facts)})
            documents[-1] |= {"created_at": now, "updated_at": now}
        stack.database.customers.insert_many(documents, ordered=False)
        log.info("inserted %d customers", first + len(documents))
    keys = [{"_id": "city", "types": ["string"]}, {"_id": "channel", "types": ["string"]}]
    stack.database.attribute_keys.insert_many(keys)
    seconds = time.perf_counter() - started
    counts = {"inserted": customers}
    return {"kind": "customers (raw)", "seconds": seconds, "accepted": 0.0, "counts": counts}


def facts(placed: list[dict[str, Any]], order_facts: Any) -> dict[str, Any]:
    """What the order pipeline keeps on a customer for ``placed``."""
    if not placed:
        return {}
    total = Decimal128(sum((o["order_amount"].to_decimal() for o in placed), Decimal(0)))
    dates = [o["order_date"] for o in placed]
    return {
        "total_spends": total,
        "visit_count": len(placed),
        "last_visit_date": max(dates),
        "order_total": total,
        "order_count": len(placed),
        "first_order_date": min(dates),
        "last_order_date": max(dates),
        order_facts.DAYS: order_facts.buckets(placed),
    }


def reads(stack: Running, customers: int) -> list[Measured]:
    from crm.services.pages import BY_CUSTOMER_ID

    replayer = Replayer(stack)
    results = [
        measure(stack, replayer, name, "POST", "/api/audiences/preview", tree)
        for name, tree in PREVIEWS.items()
    ]
    deep = stack.database.customers.find_one({"customer_id": f"C{customers * 3 // 4:07d}"})
    cursor = BY_CUSTOMER_ID.cursor(SimpleNamespace(customer_id=deep["customer_id"]))
    pages = {
        "list, first page (50)": "/api/customers?page_size=50",
        f"list, keyset page after customer {customers * 3 // 4:,}": (
            f"/api/customers?page_size=50&after={cursor}"
        ),
        "list, numbered page 200 (9,950 skipped)": "/api/customers?page=200&page_size=50",
        "GET /api/audiences/fields": "/api/audiences/fields",
    }
    results += [measure(stack, replayer, name, "GET", path) for name, path in pages.items()]
    return results


def send_campaign(stack: Running, timeout: float) -> dict[str, Any]:
    with requests.Session() as http:
        http.headers.update(stack.auth)
        body = {"name": "first 100k", "logic": "AND", "rules": CAMPAIGN_RULES}
        audience = http.post(f"{stack.api_url}/api/audiences", json=body, timeout=600).json()
        body = {"audience_id": audience["id"], "message": MESSAGE}
        campaign = http.post(f"{stack.api_url}/api/campaign", json=body, timeout=60).json()
        stack.database.command("profile", 2)
        started = time.perf_counter()
        response = http.post(
            f"{stack.api_url}/api/sendCampaign", json={"campaign_id": campaign["id"]}, timeout=60
        )
        response.raise_for_status()
        deadline = time.monotonic() + timeout
        # A connection of its own each time: gunicorn closes idle keep-alive ones after 2 s.
        url = f"{stack.api_url}/api/campaign/{campaign['id']}"
        while True:
            found = requests.get(url, headers=stack.auth, timeout=60).json()
            if found["status"] in ("COMPLETED", "CANCELLED"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"campaign still {found['status']}: {found['stats']}")
            time.sleep(2)
        seconds = time.perf_counter() - started
        stack.database.command("profile", 0)
        vendor = http.get(f"{stack.vendor_url}/admin/stats", timeout=30).json()
    profiled = Counter(
        f"{entry.get('op')} {entry.get('ns', '').split('.', 1)[-1]}"
        for entry in stack.database.system.profile.find({}, {"op": 1, "ns": 1})
    )
    result = {
        "members": audience["size"],
        "status": found["status"],
        "seconds": seconds,
        "stats": found["stats"],
        "vendor_requests": vendor["requests"],
        "delivered_twice": vendor["keys_delivered_more_than_once"],
        "profiled_commands": profiled.total(),
        "by_command": dict(profiled.most_common()),
    }
    log.info("campaign: %s", json.dumps(result))
    return result


def table(customers: int, orders: int, imports: list[dict], measured: list[Measured]) -> str:
    rows = [
        f"{customers:,} customers, {orders:,} orders",
        "",
        "| operation | status | answer | median ms | read commands | keys examined "
        "| docs examined | plan |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    rows += [m.row() for m in measured]
    rows.append("")
    for done in imports:
        records = done["counts"]["inserted"]
        rows.append(
            f"import {done['kind']}: {records:,} in {done['seconds']:,.0f} s "
            f"({records / done['seconds']:,.0f}/s; 202 after {done['accepted']:,.0f} s)"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=2_000_000)
    parser.add_argument("--timeout", type=float, default=4 * 3600)
    parser.add_argument("--no-campaign", action="store_true")
    parser.add_argument("--raw", action="store_true", help="insert customers, do not import")
    parser.add_argument("--no-reads", action="store_true", help="only the import and campaign")
    parser.add_argument(
        "--query-timeout-ms",
        type=int,
        default=5000,
        help="the API's query limit (saving a large audience counts it under this limit)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-million-"))
    paths = {}
    if not args.raw:
        log.info("writing %d customers and %d orders to %s", args.customers, args.orders, workdir)
        paths = write_files(workdir, args.customers, args.orders)
    env = {
        "CRM_MAX_UPLOAD_BYTES": str(10**10),
        "CRM_QUERY_TIMEOUT_MS": str(args.query_timeout_ms),
    }
    with running(env) as stack:
        if args.raw:
            imports = [insert_raw(stack, args.customers)]
        else:
            imports = [import_file(stack, kind, p, args.timeout) for kind, p in paths.items()]
        measured = [] if args.no_reads else reads(stack, args.customers)
        orders = 0 if args.raw else args.orders
        print(table(args.customers, orders, imports, measured), flush=True)
        if not args.no_campaign:
            campaign = send_campaign(stack, args.timeout)
            print(
                f"campaign to {campaign['members']:,}: {campaign['status']} in "
                f"{campaign['seconds']:,.0f} s ({campaign['members'] / campaign['seconds']:,.0f} "
                f"messages/s), {campaign['vendor_requests']:,} vendor requests, "
                f"{campaign['delivered_twice']} delivered twice; MongoDB commands "
                f"{campaign['profiled_commands']:,} ({campaign['by_command']})",
                flush=True,
            )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
