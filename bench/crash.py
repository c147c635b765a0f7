"""A worker killed mid-send, and how long what it held waits before it moves again.

Through the production processes (gunicorn API, one ``dramatiq workers:boot`` process of
two threads, the vendor simulator, which does not de-duplicate) with default settings: a
rate-limited campaign is sent, the worker is SIGKILLed once ``--kill-at`` messages have
been taken, and started again ``--restart-after`` seconds later. At the kill, what the
worker held is noted: the chunks it had leased, the queue messages it had taken
(prefetched chunks, delayed ones, the materialisation) and where materialisation stood.
Then, timed from the kill:

- the next request the vendor received;
- when all it held was handed out again: its leased chunks back to the queue, its queue
  messages (chunks, delayed chunks, receipts, the materialisation) back to theirs;

and, once the campaign is over, whether every promise held (soak's checks: nothing
delivered twice, counts equal to a recount, one log per member).

    .venv/bin/python -m bench.crash                 # 20,000 members, as in docs/performance.md
    .venv/bin/python -m bench.crash --members 3000 --kill-at 300
"""

import argparse
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests
from bson import ObjectId

from bench import soak

log = logging.getLogger("bench.crash")

# Where Redis keeps the queue messages a worker process has taken and not yet finished.
ACKS = "dramatiq:__acks__.*"

# The settings that shorten the soak's faults, back at their defaults: recovery is
# measured as an operator who changed nothing would see it.
DEFAULTS = {
    "CRM_VENDOR_TIMEOUT_SECONDS": "10",
    "CRM_SEND_LEASE_SECONDS": "",
    "CRM_RECEIPT_TIMEOUT_SECONDS": "",
    "CRM_SWEEP_INTERVAL_SECONDS": "",
    "CRM_ORPHAN_AFTER_SECONDS": "",
}


@dataclass
class Held:
    """What the killed worker held, and when each piece moved again (seconds after the
    kill; None: not yet)."""

    leased: dict[ObjectId, str] = field(default_factory=dict)  # chunk → lease owner
    taken: set[ObjectId] = field(default_factory=set)  # QUEUED chunks whose message it took
    by_queue: dict[str, int] = field(default_factory=dict)  # queue messages in its hands
    ack_keys: list[bytes] = field(default_factory=list)  # where Redis keeps them
    materializing: bool = False  # its message among them, mid-way
    moved: dict[str, float] = field(default_factory=dict)

    def all_moved(self) -> bool:
        return len(self.moved) == len(self.leased) + bool(self.by_queue)


@dataclass
class Recovery:
    held: Held
    next_request_after: float | None = None
    report: soak.Report | None = None

    @property
    def all_moved_after(self) -> float | None:
        if not self.held.all_moved():
            return None
        return max(self.held.moved.values(), default=0.0)


def run(
    mongodb_uri: str,
    members: int,
    api_key: str,
    kill_at: int,
    rate: int,
    chunk_size: int,
    restart_after: float = 5.0,
    timeout: float = 600,
    vendor_answers_after: float = 0.0,
) -> Recovery:
    """``vendor_answers_after``: seconds the vendor takes to answer each request (within
    the client's timeout), so that a chunk is held longer while it is sent."""
    workdir = Path(tempfile.mkdtemp(prefix="crm-crash-"))
    env = {**DEFAULTS, "CRM_SEND_CHUNK_SIZE": str(chunk_size)}
    stack = soak.Stack(mongodb_uri, workdir, orphan_after=300, env=env)
    report = soak.Report(members)
    try:
        auth = {"Authorization": f"Bearer {api_key}"}
        requests.get(f"{stack.api}/api/campaign", headers=auth, timeout=60).raise_for_status()
        soak._insert_customers(stack.db, members)
        if vendor_answers_after:
            stack.fault(mode="timeout", delay_seconds=vendor_answers_after)
        campaign_id = soak._start_campaign(stack.api, auth, rate)
        started = time.monotonic()
        _wait_until_taken(stack, campaign_id, kill_at, timeout)
        stack.kill_worker()
        killed = time.monotonic()
        requests_before = stack.vendor_requests()
        log.info("worker killed after %.1fs", killed - started)
        recovery = Recovery(_what_it_held(stack, campaign_id))
        time.sleep(max(0.0, restart_after - (time.monotonic() - killed)))
        stack.start_worker()
        _watch(stack, campaign_id, recovery, killed, requests_before, timeout)
        report.status = soak._wait_until_finished(stack.db, campaign_id, timeout)
        report.seconds = time.monotonic() - started
        soak._check(stack, campaign_id, auth, report)
        recovery.report = report
    finally:
        stack.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return recovery


def _wait_until_taken(stack: soak.Stack, campaign_id: ObjectId, taken: int, timeout: float):
    """Until ``taken`` messages went to the vendor and the worker holds at once a leased
    chunk, the materialisation (unless finished) and receipts to apply."""
    deadline = time.monotonic() + timeout
    logs, chunks = stack.db.communication_logs, stack.db.send_chunks
    client = redis.Redis(port=stack.redis_port)
    try:
        while time.monotonic() < deadline:
            gone = {"campaign_id": campaign_id, "status": {"$nin": ["PENDING", "WAITING"]}}
            leased = {"campaign_id": campaign_id, "state": "LEASED"}
            in_hands = {key.decode().split(".", 2)[-1] for key in client.keys(ACKS)}
            materialized = stack.db.campaigns.find_one({"_id": campaign_id})["materialized"]
            if (
                logs.count_documents(gone) >= taken
                and chunks.count_documents(leased)
                and {"receipts", "deliveries"} <= in_hands
                and ("campaigns" in in_hands or materialized)
            ):
                return
            time.sleep(0.02)
    finally:
        client.close()
    raise TimeoutError(f"{taken} messages were not taken within {timeout}s")


def _what_it_held(stack: soak.Stack, campaign_id: ObjectId) -> Held:
    held = Held()
    chunks = stack.db.send_chunks
    for chunk in chunks.find({"campaign_id": campaign_id, "state": "LEASED"}):
        held.leased[chunk["_id"]] = chunk["lease_owner"]
    client = redis.Redis(port=stack.redis_port)
    message_ids: set[str] = set()
    for key in client.keys(ACKS):
        members = {m.decode() for m in client.smembers(key)}
        held.by_queue[key.decode().split(".", 2)[-1]] = len(members)
        held.ack_keys.append(key)
        message_ids |= members
    client.close()
    queued = {"campaign_id": campaign_id, "state": "QUEUED", "message_id": {"$in": [*message_ids]}}
    held.taken = {chunk["_id"] for chunk in chunks.find(queued, {"_id": 1})}
    campaign = stack.db.campaigns.find_one({"_id": campaign_id})
    held.materializing = campaign.get("materializer_message_id") in message_ids and not (
        campaign.get("materialized")
    )
    log.info(
        "the worker held queue messages %s, %d leased chunks, %d queued ones, materialisation %s",
        held.by_queue,
        len(held.leased),
        len(held.taken),
        held.materializing,
    )
    return held


def _watch(
    stack: soak.Stack,
    campaign_id: ObjectId,
    recovery: Recovery,
    killed: float,
    requests_before: int,
    timeout: float,
) -> None:
    """Note when each held piece moves again, until all have or ``timeout``."""
    held, chunks = recovery.held, stack.db.send_chunks
    client = redis.Redis(port=stack.redis_port)
    deadline = time.monotonic() + timeout
    while not (held.all_moved() and recovery.next_request_after is not None):
        if time.monotonic() > deadline:
            break
        now = time.monotonic() - killed
        if recovery.next_request_after is None and stack.vendor_requests() > requests_before:
            recovery.next_request_after = now
        leased = {"_id": {"$in": [*held.leased]}}
        for chunk in chunks.find(leased, {"lease_owner": 1}):
            if chunk.get("lease_owner") != held.leased[chunk["_id"]]:
                held.moved.setdefault(str(chunk["_id"]), now)
        if held.by_queue and not client.exists(*held.ack_keys):
            held.moved.setdefault("queue messages", now)
        time.sleep(0.2)
    client.close()


def table(rows: list[tuple[str, Recovery]]) -> str:
    lines = [
        "| run | members | queue messages held | leased chunks | queued chunks "
        "| materialising | next vendor request (s after kill) "
        "| all it held handed out again (s) | status | campaign's seconds | delivered twice "
        "| counts = recount |",
        "|---|--:|--:|--:|--:|---|--:|--:|---|--:|--:|---|",
    ]
    for label, r in rows:
        report = r.report or soak.Report(0)
        lines.append(
            f"| {label} | {report.members:,} | {_pairs(r.held.by_queue)} | {len(r.held.leased)} "
            f"| {len(r.held.taken)} | {r.held.materializing} | {_seconds(r.next_request_after)} "
            f"| {_seconds(r.all_moved_after)} | {report.status} | {report.seconds:.0f} "
            f"| {report.delivered_twice} "
            f"| {report.recount_consistent} |"
        )
    return "\n".join(lines)


def _pairs(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--kill-at", type=int, default=3_000, help="messages taken")
    parser.add_argument("--rate", type=int, default=200, help="messages a second")
    parser.add_argument("--chunk-size", type=int, default=100)
    parser.add_argument("--restart-after", type=float, default=5.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with soak.scratch_database("crash") as (uri, key):
        recovery = run(
            uri, args.members, key, args.kill_at, args.rate, args.chunk_size, args.restart_after
        )
        print(table([(f"kill at {args.kill_at:,} taken", recovery)]))


if __name__ == "__main__":
    main()
