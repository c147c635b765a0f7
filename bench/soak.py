"""A campaign sent through real processes while faults hit it, and whether every promise held.

The gunicorn API, a ``dramatiq`` worker process and the vendor simulator (which does not
de-duplicate: a message submitted twice is delivered twice) run as in production, on a
redis-server of the soak's own, so it can be restarted. The campaign is rate limited so
that it outlasts the orphan timeout several times over, and while it sends:

- the worker is killed with SIGKILL, twice, and started again;
- the vendor answers 500s, then 429s, hangs past the client's timeout, and takes batches
  but answers too late (the outcome is unknown to the CRM);
- Redis restarts once with its data and once empty;
- the API is killed while receipts arrive, and started again.

Stats are sampled every half second. At the end, against what the vendor recorded:

- no message delivered twice; every member with exactly one log;
- no message FAILED that the vendor delivered (each FAILED log is looked up at the vendor);
- counts equal to a recount of the logs, never negative, adding up to the logs made.

    .venv/bin/python -m bench.soak                      # 100,000 members
    .venv/bin/python -m bench.soak --members 5000 --rate 100
"""

import argparse
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pymongo
import requests

from devstack import embedded
from devstack.stack import start_services, start_worker

log = logging.getLogger("bench.soak")

EVERYONE = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}
LOOKUP_BATCH = 1000


@dataclass
class Report:
    members: int
    seconds: float = 0.0
    status: str = ""
    logs: int = 0
    members_with_one_log: int = 0
    stats: dict[str, int] = field(default_factory=dict)
    recount_consistent: bool = False
    samples: int = 0
    negative_samples: int = 0
    samples_not_adding_up: int = 0
    delivered_twice: int = 0
    failed_but_delivered: int = 0
    failed_reasons: dict[str, int] = field(default_factory=dict)
    vendor: dict[str, int] = field(default_factory=dict)
    reconciliation: dict[str, int] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    # For each worker kill, the seconds until the vendor's next request (None: none came).
    next_request_after_kills: list[float | None] = field(default_factory=list)

    def promises_held(self) -> bool:
        return (
            self.status == "COMPLETED"
            and self.logs == self.members_with_one_log == self.members
            and self.recount_consistent
            and self.negative_samples == self.samples_not_adding_up == 0
            and self.delivered_twice == self.failed_but_delivered == 0
        )


class Stack:
    """The API, a worker and the vendor as separate processes, on the soak's own Redis."""

    def __init__(self, mongodb_uri: str, workdir: Path, orphan_after: float, env: dict[str, str]):
        self.workdir = workdir
        self.redis_port = embedded.free_port()
        self.api_port, self.vendor_port = embedded.free_port(), embedded.free_port()
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.vendor = f"http://127.0.0.1:{self.vendor_port}"
        self.redis = self._start_redis()
        self.env = {
            **os.environ,
            "CRM_MONGODB_URI": mongodb_uri,
            "CRM_REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "CRM_PUBLIC_URL": self.api,
            "CRM_VENDOR_URL": self.vendor,
            "CRM_RECEIPT_SIGNING_SECRET": "soak-receipt-signing",
            "CRM_SECRET_KEY": "soak-session-signing-key",
            "CRM_SWEEP_INTERVAL_SECONDS": "1",
            "CRM_ORPHAN_AFTER_SECONDS": str(orphan_after),
            "CRM_VENDOR_TIMEOUT_SECONDS": "2",
            "CRM_SEND_LEASE_SECONDS": "10",
            "CRM_RECEIPT_TIMEOUT_SECONDS": "20",
            "CRM_VENDOR_RECEIPT_DELAY_MS": "200",
            **env,
        }
        self.processes = start_services(self.env, self.api_port, self.vendor_port, workdir)
        self.db = pymongo.MongoClient(mongodb_uri).get_database()

    def _start_redis(self, wipe: bool = False) -> subprocess.Popen:
        if wipe:
            shutil.rmtree(self.workdir / "redis", ignore_errors=True)
        return embedded.start_redis(
            self.redis_port, self.workdir / "redis", self.workdir / "redis.log", True
        )

    def restart_redis(self, keep_data: bool) -> None:
        if keep_data:  # SIGTERM: redis-server saves its data before it exits
            self.redis.terminate()
        else:
            self.redis.kill()
        self.redis.wait()
        self.redis = self._start_redis(wipe=not keep_data)

    def kill_worker(self) -> None:
        os.killpg(self.processes["worker"].pid, signal.SIGKILL)
        self.processes["worker"].wait()

    def vendor_requests(self) -> int:
        return requests.get(f"{self.vendor}/admin/stats", timeout=10).json()["requests"]

    def start_worker(self) -> None:
        self.processes["worker"] = start_worker(self.env, self.workdir / "worker.log")

    def kill_api(self) -> None:
        os.killpg(self.processes["api"].pid, signal.SIGKILL)
        self.processes["api"].wait()

    def start_api(self) -> None:
        command = [*self.processes["api"].args]
        self.processes["api"] = embedded.spawn(command, self.workdir / "api.log", self.env)
        embedded.wait_for_port(self.api_port, self.processes["api"])

    def fault(self, **fault: object) -> None:
        requests.post(f"{self.vendor}/admin/faults", json=fault, timeout=5).raise_for_status()

    def stop(self) -> None:
        embedded.stop([self.redis, *self.processes.values()])
        self.db.client.close()


def run(
    mongodb_uri: str,
    members: int,
    rate: int,
    api_key: str,
    faults: bool = True,
    orphan_after: float = 3.0,
    timeout: float = 600,
    chunk_size: int = 100,
    env: dict[str, str] | None = None,
) -> Report:
    """Send one campaign of ``members`` at ``rate`` a second; returns what was found.
    ``env`` overrides the stack's settings."""
    workdir = Path(tempfile.mkdtemp(prefix="crm-soak-"))
    settings = {"CRM_SEND_CHUNK_SIZE": str(chunk_size), **(env or {})}
    stack = Stack(mongodb_uri, workdir, orphan_after, settings)
    report = Report(members)
    try:
        auth = {"Authorization": f"Bearer {api_key}"}
        # The API's first request declares the indexes: before the customers, so that
        # they are built as the customers arrive rather than over all of them at once.
        requests.get(f"{stack.api}/api/campaign", headers=auth, timeout=60).raise_for_status()
        _insert_customers(stack.db, members)
        campaign_id = _start_campaign(stack.api, auth, rate)
        started = time.monotonic()
        sampler = Sampler(stack.db, campaign_id)
        sampler.start()
        if faults:
            report.faults = _inflict_faults(stack, report.next_request_after_kills)
        report.status = _wait_until_finished(stack.db, campaign_id, timeout)
        report.seconds = time.monotonic() - started
        sampler.stop()
        report.samples, report.negative_samples, report.samples_not_adding_up = sampler.findings()
        _check(stack, campaign_id, auth, report)
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return report


def _inflict_faults(stack: Stack, next_request_after_kills: list[float | None]) -> list[str]:
    done: list[str] = []

    def kill_worker() -> None:
        before = stack.vendor_requests()
        killed = time.monotonic()
        stack.kill_worker()
        threading.Thread(target=time_next_request, args=(before, killed), daemon=True).start()

    def time_next_request(before: int, killed: float) -> None:
        while time.monotonic() - killed < 300:
            try:
                if stack.vendor_requests() > before:
                    next_request_after_kills.append(time.monotonic() - killed)
                    return
            except requests.RequestException:
                pass  # the vendor is being faulted or stopped: ask again
            time.sleep(0.2)
        next_request_after_kills.append(None)

    def step(at: float, what: str, action) -> None:
        time.sleep(max(0.0, at - (time.monotonic() - began)))
        log.info("t=%.0fs: %s", time.monotonic() - began, what)
        action()
        done.append(what)

    began = time.monotonic()
    step(3, "worker killed (SIGKILL)", kill_worker)
    step(4, "worker started again", stack.start_worker)
    step(6, "vendor answers 500 for 3 s", lambda: stack.fault(mode="error_500", seconds=3))
    step(10, "Redis restarted with its data", lambda: stack.restart_redis(keep_data=True))
    step(13, "vendor answers 429 for 3 s", lambda: stack.fault(mode="error_429", seconds=3))
    step(17, "worker killed again (SIGKILL)", kill_worker)
    step(18, "worker started again", stack.start_worker)
    step(
        20,
        "vendor hangs past the client's timeout for 5 s",
        lambda: stack.fault(mode="hang", seconds=5, delay_seconds=3),
    )
    step(
        26,
        "vendor takes 2 batches but answers too late",
        lambda: stack.fault(mode="timeout", requests=2, delay_seconds=3),
    )
    step(31, "Redis restarted empty", lambda: stack.restart_redis(keep_data=False))
    step(34, "API killed while receipts arrive", stack.kill_api)
    step(36, "API started again", stack.start_api)
    return done


class Sampler:
    """Reads the campaign's counts every half second, as a client polling it would."""

    def __init__(self, db, campaign_id: object):
        self._db, self._campaign_id = db, campaign_id
        self._stopped = threading.Event()
        self._samples: list[tuple[dict[str, int], bool]] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(0.5):
            campaign = self._db.campaigns.find_one({"_id": self._campaign_id})
            materialised = campaign.get("materialized", False)
            total = campaign.get("audience_size", 0)
            self._samples.append((dict(campaign.get("counts", {})), materialised and total))

    def findings(self) -> tuple[int, int, int]:
        negative = sum(1 for counts, _ in self._samples if min(counts.values(), default=0) < 0)
        off = sum(1 for counts, total in self._samples if total and sum(counts.values()) != total)
        return len(self._samples), negative, off


def _insert_customers(db, members: int) -> None:
    for start in range(0, members, 10_000):
        db.customers.insert_many(
            {
                "customer_id": f"s{i:07}",
                "name": f"Soak {i}",
                "email": f"s{i}@example.com",
                "visit_count": 1,
            }
            for i in range(start, min(start + 10_000, members))
        )


def _start_campaign(api: str, auth: dict[str, str], rate: int) -> object:
    audience = requests.post(f"{api}/api/audience", json=EVERYONE, headers=auth, timeout=300)
    body = {"audience_id": audience.json()["id"], "message": "Hi {{name}}"}
    body["rate_limit_per_second"] = rate
    campaign = requests.post(f"{api}/api/campaign", json=body, headers=auth, timeout=30).json()
    sent = requests.post(
        f"{api}/api/sendCampaign", json={"campaign_id": campaign["id"]}, headers=auth, timeout=30
    )
    sent.raise_for_status()
    from bson import ObjectId

    return ObjectId(campaign["id"])


def _wait_until_finished(db, campaign_id: object, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = db.campaigns.find_one({"_id": campaign_id}, {"status": 1})["status"]
        if status == "COMPLETED":
            break
        time.sleep(0.5)
    return status


def _check(stack: Stack, campaign_id: object, auth: dict[str, str], report: Report) -> None:
    logs = stack.db.communication_logs
    report.logs = logs.count_documents({"campaign_id": campaign_id})
    report.members_with_one_log = len(logs.distinct("customer_id", {"campaign_id": campaign_id}))
    campaign = requests.get(f"{stack.api}/api/campaign/{campaign_id}", headers=auth, timeout=30)
    report.stats = {k: v for k, v in campaign.json()["stats"].items() if v}
    report.reconciliation = campaign.json()["reconciliation"]
    recount = requests.post(
        f"{stack.api}/api/campaign/{campaign_id}/recount", headers=auth, timeout=60
    ).json()
    report.recount_consistent = recount["consistent"]
    vendor = requests.get(f"{stack.vendor}/admin/stats", timeout=10).json()
    report.vendor = {k: v for k, v in vendor.items() if isinstance(v, int)}
    report.delivered_twice = vendor["keys_delivered_more_than_once"]
    failed = list(logs.find({"campaign_id": campaign_id, "status": "FAILED"}, {"reason": 1}))
    report.failed_reasons = dict(Counter(entry["reason"] for entry in failed))
    keys = [str(entry["_id"]) for entry in failed]
    for start in range(0, len(keys), LOOKUP_BATCH):
        answers = requests.post(
            f"{stack.vendor}/messages/lookup",
            json={"idempotency_keys": keys[start : start + LOOKUP_BATCH]},
            timeout=30,
        ).json()["results"]
        report.failed_but_delivered += sum(1 for a in answers if a["final_status"] == "SENT")


def table(reports: list[tuple[str, Report]]) -> str:
    rows = [
        "| run | members | seconds | status | logs (one per member) | delivered twice "
        "| FAILED the vendor delivered | counts = recount | samples (negative / not adding up) "
        "| vendor requests | lookups | reconciliation | FAILED by reason "
        "| next vendor request after each kill (s) |",
        "|---|--:|--:|---|--:|--:|--:|---|---|--:|--:|---|---|---|",
    ]
    for label, r in reports:
        rows.append(
            f"| {label} | {r.members:,} | {r.seconds:.0f} | {r.status} "
            f"| {r.logs:,} ({r.members_with_one_log:,}) | {r.delivered_twice} "
            f"| {r.failed_but_delivered} | {r.recount_consistent} "
            f"| {r.samples} ({r.negative_samples} / {r.samples_not_adding_up}) "
            f"| {r.vendor.get('requests', 0):,} | {r.vendor.get('lookups', 0)} "
            f"| {_pairs(r.reconciliation)} | {_pairs(r.failed_reasons)} "
            f"| {_after_kills(r.next_request_after_kills)} |"
        )
    return "\n".join(rows)


def _after_kills(seconds: list[float | None]) -> str:
    return ", ".join("never" if s is None else f"{s:.1f}" for s in seconds) or "no kill"


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in sorted(counts.items())) or "none"


# Each run's faults and orphan timeout, from the command line's arguments.
RUNS = {
    "faults": lambda args: (True, args.orphan_after),
    "no-faults": lambda args: (False, args.orphan_after),
    "sweep-off": lambda args: (False, 10 * args.timeout),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1_000, help="messages a second")
    parser.add_argument("--orphan-after", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--runs",
        nargs="+",
        choices=list(RUNS),
        default=list(RUNS),
        help="which runs: with faults, without, without and with the orphan sweep off",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with scratch_database("soak") as (uri, key):
        reports = []
        for label in args.runs:
            faults, orphan_after = RUNS[label](args)
            report = run(
                uri, args.members, args.rate, key, faults, orphan_after, args.timeout, 1000
            )
            reports.append((label, report))
        print(table(reports))


@contextmanager
def scratch_database(name: str) -> Iterator[tuple[str, str]]:
    """An in-memory database server of the bench's own: its URI and a write API key."""
    from crm import config, db
    from crm.services import api_keys

    workdir = Path(tempfile.mkdtemp(prefix=f"crm-{name}-db-"))
    mongo = embedded.start_mongo(embedded.free_port(), ":memory:", workdir / "mongo.log")
    uri = f"mongodb://127.0.0.1:{mongo.args[mongo.args.index('--port') + 1]}/{name}"
    try:
        db.connect(config.load({"CRM_MONGODB_URI": uri}))
        yield uri, api_keys.create(name, "write")[1]
    finally:
        embedded.stop([mongo])
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
