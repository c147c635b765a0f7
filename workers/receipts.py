"""Applies delivery receipts queued by the API, several queue messages to one bulk write."""

import logging
from collections import defaultdict
from typing import Any

import dramatiq
from bson import ObjectId

from crm.queue.broker import RECEIPTS
from crm.services.sending import receipts
from workers.group_commit import GroupCommit

log = logging.getLogger(__name__)

GROUP_MAX_RECEIPTS = 1000
# A receipt that overtook the vendor's answer is held while the sending worker records
# that answer: 1 s, 2 s, 4 s … at most a minute apart. A log still PENDING after that (its
# worker died and the sweep has not sent it again) takes the receipt straight from PENDING.
HOLD_FIRST_MS = 1_000
HOLD_MAX_MS = 60_000
MAX_HOLDS = 12

# One receipt as queued, and how many times it has been held.
Item = tuple[dict[str, Any], int]


def _apply(items: list[Item]) -> None:
    holds_of = {receipt["communication_log_id"]: holds for receipt, holds in items}
    on_time = [_loaded(receipt) for receipt, holds in items if holds < MAX_HOLDS]
    overdue = [_loaded(receipt) for receipt, holds in items if holds >= MAX_HOLDS]
    unknown, early = [], []
    for batch, hold_early in ((on_time, True), (overdue, False)):
        if batch:
            outcome = receipts.apply(batch, hold_early)
            unknown += outcome.unknown
            early += outcome.early
    if unknown:
        log.warning("receipts for unknown logs ignored: %s", ", ".join(unknown))
    by_holds: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for receipt in early:
        log_id = str(receipt["communication_log_id"])
        by_holds[holds_of[log_id]].append({**receipt, "communication_log_id": log_id})
    for holds, held in by_holds.items():
        delay = min(HOLD_FIRST_MS * 2**holds, HOLD_MAX_MS)
        apply_receipts.send_with_options(args=(held, holds + 1), delay=delay)


def _loaded(receipt: dict[str, Any]) -> dict[str, Any]:
    return {**receipt, "communication_log_id": ObjectId(receipt["communication_log_id"])}


_group = GroupCommit(_apply, GROUP_MAX_RECEIPTS)


# Retried for about 15 minutes of database or Redis trouble; a receipt lost past that is
# recovered by the sweep's look-up at the vendor.
@dramatiq.actor(
    queue_name=RECEIPTS, max_retries=20, min_backoff=500, max_backoff=60_000, time_limit=60_000
)
def apply_receipts(batch: list[dict[str, Any]], holds: int = 0) -> None:
    """Apply a batch of receipts, written together with those other threads are applying."""
    _group.submit([(receipt, holds) for receipt in batch])
