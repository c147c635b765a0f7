"""How fast a campaign goes out, and what each 1,000 messages cost in commands and requests.

One process runs everything a send touches, so one pymongo ``CommandListener`` sees every
MongoDB command: the API over real HTTP (werkzeug, threaded), Dramatiq worker threads on
a real Redis, and the vendor simulator over HTTP, posting receipts back to the API. The
bench starts its own SecantusDB (in memory) and redis-server on free ports.

For each audience size it inserts that many customers (raw ``insert_many``, in a fresh
database), saves an audience matching everyone and a campaign, then times
``POST /api/sendCampaign`` until the campaign is COMPLETED, which it becomes only once every
log is SENT or FAILED. It polls with a separate client that has no listener, so only the
API's and the workers' commands are counted. Within that window it counts:

- MongoDB commands (the listener, by command name);
- Redis commands (``total_commands_processed`` of the bench's redis-server, less the
  bench's own INFO; the breakdown is ``INFO commandstats``, which also counts the
  commands Dramatiq's Lua scripts run inside one EVALSHA);
- queue messages (a Dramatiq middleware counting ``after_enqueue``, retries included);
- vendor HTTP requests (the simulator's ``/admin/stats``) and receipt callbacks to the API.

The workers' sweeper runs as in production (every 30 s by default), so its commands count
too; so do Dramatiq's consumers polling Redis, which grow with time, not with messages.

Beside each run, two raw baselines on the same database, 500 documents a batch, into a
collection with the logs' indexes: the goal's, an ``insert_many`` of as many log-shaped
documents plus an unordered ``bulk_write`` of one ``UpdateOne`` each; and the writes a send
cannot avoid, the same inserts plus two such updates (ACCEPTED, then SENT). A naive run
(``send_chunk_size=1``: a queue message, a vendor request and an update per customer) on a
small audience shows what chunking saves.

    .venv/bin/python -m bench.send                        # 10k and 100k, naive 1k
    .venv/bin/python -m bench.send --customers 10000 --threads 1 2 8

The thread count barely matters on SecantusDB, which serialises writes per collection;
the default is 2. The naive run uses the first thread count given.
"""

import argparse
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
import requests
from bson import Decimal128, ObjectId
from pymongo import MongoClient, UpdateOne, monitoring
from redis import Redis

from crm.config import Settings
from devstack import embedded

log = logging.getLogger("bench.send")

GOALS = {"db": 20, "queue": 10, "vendor": 10, "raw_ratio": 0.5}
EVERYONE = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}
MESSAGE = "Hi {{name}}, here's 10% off on your next order!"
RAW_BATCH = 500
# A materialisation in progress does not notice a shutdown; past this, leave it behind.
WORKER_STOP_MS = 10_000


class CommandCounter(monitoring.CommandListener):
    """MongoDB commands by name, counted only while ``counting``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.counting = False
        self._lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.counting:
            with self._lock:
                self.counts[event.command_name] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


class EnqueueCounter(dramatiq.Middleware):
    """Queue messages by actor, counted only while ``counting``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.counting = False
        self._lock = threading.Lock()

    def after_enqueue(self, broker, message, delay) -> None:
        if self.counting:
            with self._lock:
                self.counts[message.actor_name] += 1


class RequestCounter:
    """WSGI wrapper counting the API's requests by path, only while ``counting``."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.counts: Counter[str] = Counter()
        self.counting = False
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        if self.counting:
            with self._lock:
                self.counts[environ["PATH_INFO"]] += 1
        return self.wsgi_app(environ, start_response)


@dataclass
class Run:
    label: str
    threads: int
    messages: int
    seconds: float
    chunk_size: int
    db: Counter[str]
    redis: int
    redis_by_command: Counter[str]
    queue: Counter[str]
    vendor_requests: int
    api_requests: Counter[str]
    raw_docs_per_s: float
    raw_same_writes_per_s: float
    outcomes: dict[str, int]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def per_1000(self, count: float) -> float:
        return count * 1000 / self.messages


@contextmanager
def servers():
    """SecantusDB in memory and redis-server on free ports; yields their URLs."""
    logs = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    mongo_port, redis_port = embedded.free_port(), embedded.free_port()
    processes = []
    try:
        processes.append(embedded.start_mongo(mongo_port, ":memory:", logs / "mongo.log"))
        processes.append(
            embedded.start_redis(redis_port, logs / "redis", logs / "redis.log", False)
        )
        yield f"mongodb://127.0.0.1:{mongo_port}/bench", f"redis://127.0.0.1:{redis_port}/0"
    finally:
        embedded.stop(processes)
        shutil.rmtree(logs, ignore_errors=True)


def insert_customers(database, count: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    for start in range(0, count, 10_000):
        database.customers.insert_many(
            {
                "customer_id": f"c{i:07}",
                "name": f"Name{i}",
                "email": f"c{i}@example.com",
                "total_spends": Decimal128("0.00"),
                "visit_count": i % 7,
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            }
            for i in range(start, min(count, start + 10_000))
        )


def raw_docs_per_s(database, count: int, updates: list[str]) -> float:
    """The database's own speed at inserting ``count`` log documents, then moving each
    through ``updates`` (one bulk write of ``UpdateOne`` per status per batch)."""
    logs = database.raw_baseline
    logs.drop()
    logs.create_index([("campaign_id", 1), ("customer_id", 1)], unique=True)
    logs.create_index([("campaign_id", 1), ("status", 1), ("updated_at", 1)])
    campaign_id, now = ObjectId(), datetime.now(UTC).replace(tzinfo=None)
    entries = [
        {
            "_id": ObjectId(),
            "campaign_id": campaign_id,
            "customer_id": f"c{i:07}",
            "to": f"c{i}@example.com",
            "message": MESSAGE.replace("{{name}}", f"Name{i}"),
            "status": "PENDING",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    start = time.perf_counter()
    for i in range(0, count, RAW_BATCH):
        logs.insert_many(entries[i : i + RAW_BATCH], ordered=False)
    for status in updates:
        for i in range(0, count, RAW_BATCH):
            batch = entries[i : i + RAW_BATCH]
            change = {"$set": {"status": status, "updated_at": now}}
            logs.bulk_write([UpdateOne({"_id": e["_id"]}, change) for e in batch], ordered=False)
    return count / (time.perf_counter() - start)


def wait_until_completed(database, campaign_id: ObjectId, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign = database.campaigns.find_one({"_id": campaign_id}, {"status": 1})
        if campaign["status"] == "COMPLETED":
            return
        time.sleep(0.1)
    raise TimeoutError(f"campaign {campaign_id} still {campaign['status']} after {timeout}s")


def redis_snapshot(redis: Redis) -> tuple[int, Counter[str]]:
    info = redis.info("all")
    calls = {k.removeprefix("cmdstat_"): v["calls"] for k, v in info.items() if "cmdstat_" in k}
    return info["total_commands_processed"], Counter(calls)


class Bench:
    """The API, the worker threads and the counters, shared by every run."""

    def __init__(self, args: argparse.Namespace):
        import vendor_simulator
        import workers
        from crm import config, create_app, db
        from crm.queue import broker
        from crm.services import api_keys
        from vendor_simulator import config as vendor_config

        self.args, self.db, self.broker, self.api_keys = args, db, broker, api_keys
        self.vendor_simulator = vendor_simulator
        # The simulator signs receipts with the secret the API checks.
        self.settings = replace(config.load(), receipt_signing_secret="bench-receipt-signing")
        self.vendor_settings = vendor_config.load(
            seed=args.seed,
            receipt_delay_ms=args.receipt_delay_ms,
            signing_secret="bench-receipt-signing",
        )
        self.commands, self.enqueues = CommandCounter(), EnqueueCounter()
        self.app = create_app(self.settings)
        workers.declare_actors()
        broker.get().add_middleware(self.enqueues)
        self.api = RequestCounter(self.app.wsgi_app)
        self.app.wsgi_app = self.api  # type: ignore[method-assign]
        self.raw: MongoClient = MongoClient(self.settings.mongodb_uri)
        self.redis = Redis.from_url(self.settings.redis_url)
        self.http = requests.Session()

    def run_all(self, plan: list[tuple[str, int, int, int]]) -> list[Run]:
        try:
            with embedded.serve(self.app) as api_url:
                return [self.with_worker(api_url, *step) for step in plan]
        finally:
            self.raw.close()
            self.redis.close()
            self.http.close()

    def with_worker(
        self, api_url: str, label: str, customers: int, chunk_size: int, threads: int
    ) -> Run:
        worker = dramatiq.Worker(self.broker.get(), worker_threads=threads, worker_timeout=100)
        worker.start()
        try:
            return self.run(label, customers, chunk_size, threads, api_url)
        finally:
            worker.stop(timeout=WORKER_STOP_MS)

    def run(self, label: str, customers: int, chunk_size: int, threads: int, api_url: str) -> Run:
        name = f"bench_{label}_{customers}"
        settings = replace(
            self.settings,
            mongodb_uri=f"{self.settings.mongodb_uri.rsplit('/', 1)[0]}/{name}",
            send_chunk_size=chunk_size,
        )
        self.db.connect(settings, [self.commands])
        self.http.headers["Authorization"] = f"Bearer {self.api_keys.create('bench', 'write')[1]}"
        database = self.raw[name]
        log.info("%s: inserting %d customers", label, customers)
        insert_customers(database, customers)
        campaign_id = self.new_campaign(api_url)

        vendor_app = self.vendor_simulator.create_app(self.vendor_settings)
        try:
            with embedded.serve(vendor_app) as vendor_url:
                self.broker.setup(replace(settings, vendor_url=vendor_url, public_url=api_url))
                log.info("%s: sending to %d customers, chunks of %d", label, customers, chunk_size)
                redis_before, redis_calls_before = redis_snapshot(self.redis)
                seconds = self.send(api_url, database, campaign_id)
                redis_after, redis_calls_after = redis_snapshot(self.redis)
                vendor = self.http.get(f"{vendor_url}/admin/stats", timeout=10).json()
        finally:
            vendor_app.extensions["vendor_simulator"].close()

        outcomes = self.outcomes(database, campaign_id)
        assert sum(outcomes.values()) == customers and set(outcomes) <= {"SENT", "FAILED"}
        outcomes["keys delivered more than once"] = vendor["keys_delivered_more_than_once"]
        log.info("%s: sent in %.1fs; raw baseline", label, seconds)
        raw_rate = raw_docs_per_s(database, customers, ["SENT"])
        raw_same_writes = raw_docs_per_s(database, customers, ["ACCEPTED", "SENT"])
        self.raw.drop_database(name)
        redis_calls = redis_calls_after - redis_calls_before
        del redis_calls["info"]
        run = Run(
            label=label,
            threads=threads,
            messages=customers,
            seconds=seconds,
            chunk_size=chunk_size,
            db=Counter(self.commands.counts),
            redis=redis_after - redis_before - 1,  # the first snapshot's INFO
            redis_by_command=redis_calls,
            queue=Counter(self.enqueues.counts),
            vendor_requests=vendor["requests"],
            api_requests=Counter(self.api.counts),
            raw_docs_per_s=raw_rate,
            raw_same_writes_per_s=raw_same_writes,
            outcomes=outcomes,
        )
        log.info("%s: %s", label, summary_table([run]).splitlines()[-1])
        return run

    def new_campaign(self, api_url: str) -> ObjectId:
        from crm.documents import Audience

        audience = Audience(rules=EVERYONE).save()
        body = {"audience_id": str(audience.id), "message": MESSAGE}
        response = self.http.post(f"{api_url}/api/campaign", json=body, timeout=30)
        response.raise_for_status()
        return ObjectId(response.json()["id"])

    def send(self, api_url: str, database, campaign_id: ObjectId) -> float:
        """Seconds from POST /api/sendCampaign to COMPLETED, counting commands meanwhile."""
        counters = (self.commands, self.enqueues, self.api)
        for counter in counters:
            counter.counts.clear()
            counter.counting = True
        try:
            start = time.perf_counter()
            body = {"campaign_id": str(campaign_id)}
            response = self.http.post(f"{api_url}/api/sendCampaign", json=body, timeout=30)
            response.raise_for_status()
            wait_until_completed(database, campaign_id, self.args.timeout)
            return time.perf_counter() - start
        finally:
            for counter in counters:
                counter.counting = False

    @staticmethod
    def outcomes(database, campaign_id: ObjectId) -> dict[str, int]:
        pipeline = [
            {"$match": {"campaign_id": campaign_id}},
            {"$group": {"_id": "$status", "n": {"$sum": 1}}},
        ]
        return {row["_id"]: row["n"] for row in database.communication_logs.aggregate(pipeline)}


def summary_table(runs: list[Run]) -> str:
    rows = [
        "| run | threads | chunk | messages | seconds | messages/s "
        f"| DB cmds /1k (goal ≤ {GOALS['db']}) "
        f"| queue msgs /1k (≤ {GOALS['queue']}) | vendor reqs /1k (≤ {GOALS['vendor']}) "
        f"| Redis cmds /1k | receipt POSTs /1k "
        f"| raw docs/s | pipeline / raw (goal ≥ {GOALS['raw_ratio']}) "
        "| raw same writes/s | pipeline / same writes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        receipts = run.api_requests["/api/sendCampaign/deliveryReceipts"]
        rows.append(
            f"| {run.label} | {run.threads} | {run.chunk_size} | {run.messages:,} "
            f"| {run.seconds:.1f} "
            f"| {run.rate:,.0f} | {run.per_1000(run.db.total()):.1f} "
            f"| {run.per_1000(run.queue.total()):.1f} | {run.per_1000(run.vendor_requests):.1f} "
            f"| {run.per_1000(run.redis):.0f} | {run.per_1000(receipts):.1f} "
            f"| {run.raw_docs_per_s:,.0f} | {run.rate / run.raw_docs_per_s:.2f} "
            f"| {run.raw_same_writes_per_s:,.0f} | {run.rate / run.raw_same_writes_per_s:.2f} |"
        )
    return "\n".join(rows)


def naive_table(naive: Run, chunked: Run) -> str:
    metrics = [
        ("messages/s", naive.rate, chunked.rate),
        ("DB cmds /1k", naive.per_1000(naive.db.total()), chunked.per_1000(chunked.db.total())),
        (
            "queue msgs /1k",
            naive.per_1000(naive.queue.total()),
            chunked.per_1000(chunked.queue.total()),
        ),
        (
            "vendor reqs /1k",
            naive.per_1000(naive.vendor_requests),
            chunked.per_1000(chunked.vendor_requests),
        ),
        ("Redis cmds /1k", naive.per_1000(naive.redis), chunked.per_1000(chunked.redis)),
    ]
    rows = [
        f"| metric | naive ({naive.messages:,}, chunk 1) "
        f"| chunked ({chunked.messages:,}, chunk {chunked.chunk_size}) | naive / chunked |",
        "|---|--:|--:|--:|",
    ]
    for name, bad, good in metrics:
        rows.append(f"| {name} | {bad:,.1f} | {good:,.1f} | {bad / good:,.2f} |")
    return "\n".join(rows)


def breakdown_table(runs: list[Run]) -> str:
    """Per 1,000 messages, by MongoDB command, Redis command, queue actor and API path."""
    sources = {
        "mongo": lambda run: run.db,
        "redis": lambda run: run.redis_by_command,
        "queue": lambda run: run.queue,
        "api": lambda run: run.api_requests,
    }
    header = " | ".join(f"{run.label} {run.messages:,}" for run in runs)
    rows = [f"| per 1,000 messages | {header} |", "|---|" + "--:|" * len(runs)]
    for source, counts_of in sources.items():
        names = sorted({name for run in runs for name in counts_of(run)})
        for name in names:
            cells = " | ".join(f"{run.per_1000(counts_of(run)[name]):.1f}" for run in runs)
            rows.append(f"| {source}: {name} | {cells} |")
    return "\n".join(rows)


def report(runs: list[Run], args: argparse.Namespace) -> str:
    naive = next((run for run in runs if run.label == "naive"), None)
    chunked = [run for run in runs if run.label != "naive"]
    parts = [
        f"Campaign send, vendor receipts within {args.receipt_delay_ms} ms, seed {args.seed}.",
        "",
        summary_table(runs),
    ]
    if naive and chunked:
        parts += ["", naive_table(naive, chunked[0])]
    outcomes = "; ".join(f"{run.label} {run.messages:,}: {run.outcomes}" for run in runs)
    parts += ["", breakdown_table(runs), "", f"Outcomes: {outcomes}"]
    return "\n".join(parts)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--naive", type=int, default=1_000, help="audience of the chunk-1 run")
    parser.add_argument("--chunk-size", type=int, default=Settings.send_chunk_size)
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[2], help="Dramatiq worker threads, per run"
    )
    parser.add_argument("--receipt-delay-ms", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # clean up as on Ctrl-C
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    plan = [("chunked", n, args.chunk_size, t) for n in args.customers for t in args.threads]
    if args.naive:
        plan.insert(0, ("naive", args.naive, 1, args.threads[0]))
    with servers() as (mongo_uri, redis_url):
        # The broker is declared when ``workers`` is imported, so Redis must be known first.
        os.environ["CRM_MONGODB_URI"], os.environ["CRM_REDIS_URL"] = mongo_uri, redis_url
        runs = Bench(args).run_all(plan)
    print(report(runs, args))


if __name__ == "__main__":
    main()
