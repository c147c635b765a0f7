"""How fast a bulk import goes through the HTTP endpoint and the pipeline, what it costs in
MongoDB commands per 1,000 records, and how much memory the API and a worker need.

The bench starts its own SecantusDB (in memory) and redis-server, writes demo customers
(CSV) and orders (NDJSON) with ``crm.services.demo_data``, and runs the API (werkzeug,
threaded) and one Dramatiq worker process (``--threads``) as child processes, each
with a pymongo ``CommandListener`` that reports its counts when asked (SIGUSR1), so
only the commands between the upload's first byte and the job's DONE are counted. It
uploads the customers, waits for DONE, then the orders (polling the job from its own
uncounted connection), and reads each child's peak RSS (``VmHWM``) at the end.

Beside it, two raw baselines in another database of the same server, with the same
indexes: the same records in their stored form inserted with unordered ``insert_many``
(2,000 per batch), which the pipeline should reach half of; and the same writes the
pipeline makes, which for orders adds one ``UpdateOne`` per customer (unordered
``bulk_write``, 2,000 per batch) to the inserts: the effect of its orders on it.

The worker runs 2 threads by default, one per core of the machine measured: SecantusDB
slows down under many concurrent transactions (8 threads took twice as long for orders).

    .venv/bin/python -m bench.ingest               # 10,000 customers, 30,000 orders
    .venv/bin/python -m bench.ingest --full        # 100,000 customers, 300,000 orders
"""

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import requests
from pymongo import MongoClient

from bench.send import CommandCounter, servers
from crm.services import demo_data
from devstack import embedded

log = logging.getLogger("bench.ingest")

GOALS = {"commands_per_1000": 5, "raw_ratio": 0.5}
RAW_BATCH = 2000


# --- the child processes -------------------------------------------------------------


def run_child(role: str, port: int, threads: int, counts_path: Path) -> None:
    """The API or a worker, counting MongoDB commands, snapshotting them on SIGUSR1."""
    from crm import config, db

    settings = config.load()
    counter = CommandCounter()
    stopped = threading.Event()

    def snapshot(*_) -> None:
        with counter._lock:
            counts = dict(counter.counts)
        partial = counts_path.with_suffix(".tmp")
        partial.write_text(json.dumps(counts))
        partial.replace(counts_path)

    signal.signal(signal.SIGUSR1, snapshot)
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    if role == "api":
        from werkzeug.serving import make_server

        from crm import create_app

        app = create_app(settings)
        db.connect(settings, [counter])
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        counter.counting = True
        stopped.wait()
        server.shutdown()
    else:
        import dramatiq

        import workers
        from crm.queue import broker

        workers.boot()
        db.connect(settings, [counter])
        worker = dramatiq.Worker(broker.get(), queues={"ingestion"}, worker_threads=threads)
        worker.start()
        counter.counting = True
        stopped.wait()
        worker.stop()


class Child:
    """A child process of this module, its command counts and its memory."""

    def __init__(self, role: str, env: dict[str, str], workdir: Path, port: int, threads: int):
        self.role, self.counts_path = role, workdir / f"{role}.counts.json"
        command = [sys.executable, "-m", "bench.ingest", "--role", role, "--port", str(port)]
        command += ["--threads", str(threads), "--counts", str(self.counts_path)]
        with (workdir / f"{role}.log").open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=out)

    def commands(self) -> Counter[str]:
        """The child's counts now (it writes them when signalled)."""
        before = self.counts_path.stat().st_mtime_ns if self.counts_path.exists() else 0
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.counts_path.exists() and self.counts_path.stat().st_mtime_ns != before:
                return Counter(json.loads(self.counts_path.read_text()))
            time.sleep(0.01)
        raise TimeoutError(f"{self.role} did not report its counts")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the measurement -----------------------------------------------------------------


@dataclass
class Phase:
    kind: str
    records: int
    seconds: float
    accepted_seconds: float
    api: Counter[str]
    worker: Counter[str]
    raw_per_s: float = 0.0
    raw_writes_per_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def per_1000(self) -> float:
        return (self.api.total() + self.worker.total()) * 1000 / self.records


def write_files(workdir: Path, customers: int, orders: int) -> dict[str, Path]:
    paths = {"customers": workdir / "customers.csv", "orders": workdir / "orders.ndjson"}
    with paths["customers"].open("w", encoding="utf-8", newline="") as out:
        demo_data.write_csv(out, demo_data.customers(customers), demo_data.CUSTOMER_COLUMNS)
    with paths["orders"].open("w", encoding="utf-8") as out:
        for order in demo_data.orders(orders, customers):
            out.write(json.dumps(order) + "\n")
    return paths


def import_one(
    api_url: str, key: str, kind: str, path: Path, children: dict[str, Child], timeout: float
) -> Phase:
    from crm.services.ingestion import jobs

    content_type = "text/csv" if path.suffix == ".csv" else "application/x-ndjson"
    before = {role: child.commands() for role, child in children.items()}
    start = time.perf_counter()
    with path.open("rb") as body:
        response = requests.post(
            f"{api_url}/api/{kind}/bulk",
            data=body,
            headers={"Content-Type": content_type, "Authorization": f"Bearer {key}"},
            timeout=timeout,
        )
    response.raise_for_status()
    accepted = time.perf_counter() - start
    job_id = response.json()["id"]
    deadline = time.monotonic() + timeout
    while (report := jobs.report(jobs.get(job_id)))["status"] not in ("DONE", "FAILED"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} import still {report['status']}: {report['progress']}")
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    after = {role: child.commands() for role, child in children.items()}
    counts = report["counts"]
    assert report["status"] == "DONE", report
    assert counts["inserted"] == counts["received"] == counts["valid"], counts
    log.info("%s: %d in %.1fs (202 after %.1fs)", kind, counts["inserted"], seconds, accepted)
    return Phase(
        kind,
        counts["inserted"],
        seconds,
        accepted,
        after["api"] - before["api"],
        after["worker"] - before["worker"],
    )


def stored_documents(kind: str, path: Path) -> list[dict]:
    """``path``'s records in the form the pipeline stores them."""
    from crm.clock import utcnow
    from crm.services.customers import DEFAULTS
    from crm.services.ingestion.formats import Upload
    from crm.services.ingestion.kinds import KINDS

    source, now, documents = KINDS[kind], utcnow(), []
    with path.open("rb") as file:
        for _, record in Upload(file, None).records(source):
            assert isinstance(record, dict)
            document = source.to_document(source.to_message(source.schema.load(record)))
            if kind == "customers":
                document = {**DEFAULTS, **document, "updated_at": now}
            documents.append({**document, "created_at": now})
    return documents


def raw_rates(mongodb_uri: str, paths: dict[str, Path]) -> dict[str, tuple[float, float]]:
    """Per kind, records/s of (plain unordered ``insert_many``, the same writes as the
    pipeline: for orders, also one ``UpdateOne`` per customer by unordered ``bulk_write``),
    in a scratch database of the same server with the same indexes."""
    from crm.services import orders

    client: MongoClient = MongoClient(mongodb_uri)
    app_db = client.get_database()
    scratch = client[f"{app_db.name}_raw"]
    rates = {}
    for kind, path in paths.items():
        for name, spec in app_db[kind].index_information().items():
            if name != "_id_":
                options = {k: v for k, v in spec.items() if k in ("unique", "sparse")}
                scratch[kind].create_index(spec["key"], name=name, **options)
        documents = stored_documents(kind, path)
        start = time.perf_counter()
        for i in range(0, len(documents), RAW_BATCH):
            scratch[kind].insert_many(documents[i : i + RAW_BATCH], ordered=False)
        inserted = time.perf_counter() - start
        if kind == "orders":
            updates = orders.customer_updates(orders.group_by_customer(documents))
            for i in range(0, len(updates), RAW_BATCH):
                scratch.customers.bulk_write(updates[i : i + RAW_BATCH], ordered=False)
        written = time.perf_counter() - start
        rates[kind] = (len(documents) / inserted, len(documents) / written)
    client.drop_database(scratch.name)
    client.close()
    return rates


def run(args: argparse.Namespace) -> tuple[list[Phase], dict[str, float]]:
    from crm import config, db
    from crm.services import api_keys

    customers, orders = (100_000, 300_000) if args.full else (args.customers, args.orders)
    workdir = Path(tempfile.mkdtemp(prefix="crm-bench-ingest-"))
    log.info("writing %d customers and %d orders to %s", customers, orders, workdir)
    paths = write_files(workdir, customers, orders)
    with servers() as (mongodb_uri, redis_url):
        env = {**os.environ, "CRM_MONGODB_URI": mongodb_uri, "CRM_REDIS_URL": redis_url}
        env |= {"CRM_INGEST_CHUNK_SIZE": str(args.chunk_size), "CRM_SWEEP_INTERVAL_SECONDS": "0"}
        settings = replace(config.load(), mongodb_uri=mongodb_uri, redis_url=redis_url)
        db.connect(settings)
        key = api_keys.create("bench", "admin")[1]
        port = embedded.free_port()
        children = {
            "api": Child("api", env, workdir, port, args.threads),
            "worker": Child("worker", env, workdir, port, args.threads),
        }
        try:
            embedded.wait_for_port(port, children["api"].process)
            time.sleep(1)  # the worker's boot
            phases = [
                import_one(f"http://127.0.0.1:{port}", key, kind, path, children, args.timeout)
                for kind, path in paths.items()
            ]
            memory = {role: child.peak_rss_mb() for role, child in children.items()}
        finally:
            for child in children.values():
                child.stop()
        log.info("raw baseline")
        rates = raw_rates(mongodb_uri, paths)
        for phase in phases:
            phase.raw_per_s, phase.raw_writes_per_s = rates[phase.kind]
    return phases, memory


def table(phases: list[Phase], memory: dict[str, float], threads: int, chunk: int) -> str:
    total = Phase(
        "total",
        sum(p.records for p in phases),
        sum(p.seconds for p in phases),
        sum(p.accepted_seconds for p in phases),
        sum((p.api for p in phases), Counter()),
        sum((p.worker for p in phases), Counter()),
    )
    total.raw_per_s = total.records / sum(p.records / p.raw_per_s for p in phases)
    total.raw_writes_per_s = total.records / sum(p.records / p.raw_writes_per_s for p in phases)
    rows = [
        f"| import | records | 202 after s | done after s | records/s | DB cmds /1k "
        f"(goal ≤ {GOALS['commands_per_1000']}) | raw insert_many/s | pipeline / raw "
        f"(goal ≥ {GOALS['raw_ratio']}) | raw same writes/s | pipeline / same writes |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for p in [*phases, total]:
        rows.append(
            f"| {p.kind} | {p.records:,} | {p.accepted_seconds:.1f} | {p.seconds:.1f} "
            f"| {p.rate:,.0f} | {p.per_1000:.2f} | {p.raw_per_s:,.0f} "
            f"| {p.rate / p.raw_per_s:.2f} | {p.raw_writes_per_s:,.0f} "
            f"| {p.rate / p.raw_writes_per_s:.2f} |"
        )
    breakdown = ", ".join(
        f"{name} {count * 1000 / total.records:.2f}"
        for name, count in (total.api + total.worker).most_common()
    )
    rows += [
        "",
        f"Peak RSS: API {memory['api']:.0f} MB, worker {memory['worker']:.0f} MB "
        f"(one process, {threads} threads); chunks of {chunk:,} records.",
        f"Commands per 1,000 records by name: {breakdown}.",
    ]
    return "\n".join(rows)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--full", action="store_true", help="100,000 customers, 300,000 orders")
    parser.add_argument("--threads", type=int, default=2, help="worker threads")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--role", choices=("api", "worker"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--counts", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    if args.role:
        run_child(args.role, args.port, args.threads, args.counts)
        return
    phases, memory = run(args)
    print(table(phases, memory, args.threads, args.chunk_size))


if __name__ == "__main__":
    main()
