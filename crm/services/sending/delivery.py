"""A chunk's messages become vendor requests, sent by whoever holds the chunk's lease.

- Taking the lease (QUEUED → LEASED) is the only way to send a chunk, so one worker at a
  time sends it; whatever a worker records is fenced by that lease in the same transaction.
- A chunk whose earlier request may have reached the vendor unanswered (``ambiguous``)
  first asks the vendor which of its messages it already has, and sends only the rest.
- A vendor that is down delays the chunk (backoff, honouring ``Retry-After``) and fails
  its messages only once it has been failing for the whole outage budget.
"""

import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import CampaignStatus, ChunkState, MessageStatus
from crm.services.sending import control, exclusions, leases, queue, reconcile, schedule
from crm.services.sending.moves import (
    VENDOR_UNAVAILABLE,
    LeaseLost,
    Move,
    Moves,
    move_where,
    record,
)
from crm.store import campaigns, chunks, contacts, logs, transaction
from crm.vendor import (
    OutboundMessage,
    VendorClient,
    VendorRejected,
    VendorResult,
    VendorUnavailable,
)

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60.0


@dataclass(frozen=True)
class Outlet:
    """What delivering needs from outside: the vendor, the queue and the rate limit."""

    vendor: VendorClient
    callback_url: str
    enqueue_chunk: queue.EnqueueChunk
    # (campaign id, messages wanted, its own limit or None) → how many may go now.
    take_permits: Callable[[ObjectId, int, int | None], int]
    lease: timedelta
    outage_budget: timedelta
    # A call hands what is left of its chunk on to a new queue message after this long.
    time_budget_seconds: float = 30.0


def deliver(chunk_id: ObjectId, outlet: Outlet) -> None:
    owner = uuid4().hex
    chunk = chunks.lease(chunk_id, owner, utcnow() + outlet.lease)
    if chunk is None:
        return  # sent, paused, cancelled, or being sent by someone else
    try:
        with leases.holding(chunk_id, owner):
            _deliver(chunk, owner, outlet)
    except LeaseLost:
        log.warning("campaign_id=%s chunk %s: lease lost", chunk["campaign_id"], chunk_id)


def _deliver(chunk: dict[str, Any], owner: str, outlet: Outlet) -> None:
    started = time.monotonic()
    if chunk["attempts"] > 1 and not _campaign_sends(chunk, owner, outlet.vendor):
        return
    pending = logs.pending(chunk["log_ids"])
    if pending and chunk["ambiguous"]:
        try:
            pending = reconcile.before_sending(chunk, owner, pending, outlet.vendor, outlet.lease)
        except VendorUnavailable as error:
            _retry_later(chunk, owner, outlet, error)
            return
    pending = _screen_again(chunk, pending)
    if not pending:
        chunks.update_leased(chunk["_id"], owner, {"state": str(ChunkState.DONE)})
    while pending:
        if (until := schedule.hold_until(chunk, utcnow())) is not None:
            # Early (a local send time, quiet hours): back to the queue until then.
            _hand_on(chunk, owner, outlet, schedule.delay_ms(until, utcnow()))
            return
        if time.monotonic() - started > outlet.time_budget_seconds:
            _hand_on(chunk, owner, outlet, 0)
            return
        allowed = outlet.take_permits(
            chunk["campaign_id"], len(pending), chunk.get("rate_limit_per_second")
        )
        batch, pending = pending[:allowed], pending[allowed:]
        try:
            results = outlet.vendor.send_batch(outlet.callback_url, _outbound(batch))
        except VendorUnavailable as error:
            _retry_later(chunk, owner, outlet, error)
            return
        except VendorRejected as error:
            log.error(
                "campaign_id=%s vendor refused a request (%d)",
                chunk["campaign_id"],
                error.status_code,
            )
            reason = f"vendor_rejected_{error.status_code}"
            results = [VendorResult(str(m["_id"]), False, reason) for m in batch]
        if not _record(chunk, owner, results, pending, outlet.lease):
            return


def _screen_again(chunk: dict[str, Any], pending: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``pending`` without the messages whose recipients became unreachable while the
    chunk waited, which are SKIPPED (conditional moves: a second holder skips nothing)."""
    unreachable = exclusions.unreachable_now(chunk, pending, utcnow())
    if not unreachable:
        return pending
    campaign_id = chunk["campaign_id"]
    skipped = {log_id for ids in unreachable.values() for log_id in ids}
    customers = sorted({m["customer_id"] for m in pending if m["_id"] in skipped})
    record(
        {
            Move(campaign_id, MessageStatus.PENDING, MessageStatus.SKIPPED, reason): ids
            for reason, ids in unreachable.items()
        },
        also=lambda session, _: contacts.refund(campaign_id, customers, session),
    )
    return [message for message in pending if message["_id"] not in skipped]


def _outbound(batch: list[dict[str, Any]]) -> list[OutboundMessage]:
    return [OutboundMessage(str(m["_id"]), m["to"], m["message"]) for m in batch]


def _record(
    chunk: dict[str, Any],
    owner: str,
    results: list[VendorResult],
    rest: list[dict[str, Any]],
    lease: timedelta,
) -> bool:
    """The vendor's answer for one request, and what becomes of the chunk, in one
    transaction; returns whether to go on sending the rest."""
    campaign_id = chunk["campaign_id"]
    moves: Moves = {}
    for result in results:
        if result.accepted:
            move = Move(campaign_id, MessageStatus.PENDING, MessageStatus.ACCEPTED)
        else:
            move = Move(
                campaign_id,
                MessageStatus.PENDING,
                MessageStatus.FAILED,
                result.reason or "rejected",
            )
        moves.setdefault(move, []).append(ObjectId(result.idempotency_key))
    go_on = [False]

    def settle_chunk(session: ClientSession, after: dict[ObjectId, dict]) -> None:
        status = after[campaign_id]["status"] if campaign_id in after else None
        go_on[0] = _settle(chunk, owner, status, rest, lease, session)

    record(moves, also=settle_chunk)
    return go_on[0]


def _settle(
    chunk: dict[str, Any],
    owner: str,
    status: str | None,
    rest: list[dict[str, Any]],
    lease: timedelta,
    session: ClientSession,
) -> bool:
    changes: dict[str, Any] = {"failing_since": None, "ambiguous": False}
    go_on = False
    if not rest:
        changes["state"] = str(ChunkState.DONE)
    elif status == CampaignStatus.SENDING:
        changes["lease_until"] = utcnow() + lease
        go_on = True
    elif status == CampaignStatus.PAUSED:
        changes.update(state=str(ChunkState.PAUSED), lease_owner=None)
    else:  # cancelled: the rest never left, so it is cancelled with the chunk
        cancel = Move(chunk["campaign_id"], MessageStatus.PENDING, MessageStatus.CANCELLED)
        move_where({"_id": {"$in": [m["_id"] for m in rest]}}, cancel, session)
        changes["state"] = str(ChunkState.DONE)
    if not chunks.update_leased(chunk["_id"], owner, changes, session):
        raise LeaseLost
    return go_on


def _campaign_sends(chunk: dict[str, Any], owner: str, vendor: VendorClient) -> bool:
    """A chunk handed out again may belong to a campaign paused or cancelled meanwhile:
    it waits with its campaign, or is cancelled (the vendor asked first if need be)."""
    campaign = campaigns.find(chunk["campaign_id"], {"status": 1})
    status = campaign["status"] if campaign else CampaignStatus.CANCELLED
    if status == CampaignStatus.SENDING:
        return True
    if status == CampaignStatus.PAUSED:
        paused = {"state": str(ChunkState.PAUSED), "lease_owner": None}
        if not chunks.update_leased(chunk["_id"], owner, paused):
            raise LeaseLost
        return False
    held_as = {"_id": chunk["_id"], "state": str(ChunkState.LEASED), "lease_owner": owner}
    control.cancel_chunk(chunk, chunk["log_ids"], vendor, held_as)
    return False


def _retry_later(
    chunk: dict[str, Any], owner: str, outlet: Outlet, error: VendorUnavailable
) -> None:
    now = utcnow()
    failing_since = chunk.get("failing_since") or now
    campaign_id = chunk["campaign_id"]
    ambiguous = chunk["ambiguous"] or error.ambiguous
    if error.ambiguous:
        log.warning(
            "campaign_id=%s chunk %s: outcome unknown (%s)", campaign_id, chunk["_id"], error
        )
        campaigns.tally(campaign_id, Counter(ambiguous_requests=1))
    if now - failing_since >= outlet.outage_budget and not ambiguous:
        log.error(
            "campaign_id=%s vendor unavailable past the outage budget: %s", campaign_id, error
        )
        _give_up(chunk, owner)
        return
    # Past the budget, messages the vendor may hold are still not failed: their chunk
    # keeps asking until the vendor answers which it has.
    delay = _backoff_seconds(chunk["attempts"], error.retry_after)
    log.warning(
        "campaign_id=%s vendor unavailable, retrying in %.1fs: %s", campaign_id, delay, error
    )
    _hand_on(
        chunk, owner, outlet, int(delay * 1000), failing_since=failing_since, ambiguous=ambiguous
    )


def _give_up(chunk: dict[str, Any], owner: str) -> None:
    """Fail what is still PENDING: the vendor has certainly not taken it."""
    give_up = Move(
        chunk["campaign_id"], MessageStatus.PENDING, MessageStatus.FAILED, VENDOR_UNAVAILABLE
    )

    def fail(session: ClientSession) -> None:
        move_where({"_id": {"$in": chunk["log_ids"]}}, give_up, session)
        if not chunks.update_leased(chunk["_id"], owner, {"state": str(ChunkState.DONE)}, session):
            raise LeaseLost

    transaction.run(fail)


def _hand_on(
    chunk: dict[str, Any], owner: str, outlet: Outlet, delay_ms: int, **fields: Any
) -> None:
    changes: dict[str, Any] = {
        "state": str(ChunkState.QUEUED),
        "message_id": None,
        "lease_owner": None,
    }
    if delay_ms:  # what the delayed message stands for, should Redis hold it up or lose it
        changes["not_before"] = utcnow() + timedelta(milliseconds=delay_ms)
    if not chunks.update_leased(chunk["_id"], owner, {**changes, **fields}):
        raise LeaseLost
    queue.hand_out(chunk["_id"], outlet.enqueue_chunk, delay_ms)


def _backoff_seconds(attempts: int, retry_after: float | None) -> float:
    backoff = min(MAX_BACKOFF_SECONDS, 2 ** max(attempts - 1, 0) * random.uniform(0.5, 1.5))
    return max(backoff, min(retry_after or 0.0, MAX_BACKOFF_SECONDS))
