"""Asking the vendor what it has, instead of guessing.

- Before a chunk is sent again after an unknown outcome (a timeout, a reset connection, a
  worker killed mid-request), the vendor is asked which of its messages it already holds;
  those are recorded as it answers and only the rest are sent.
- A message accepted long ago with no receipt (lost with a wiped Redis, dropped by the
  network) is looked up before it is failed, so its real outcome is recorded.
"""

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import MessageStatus
from crm.services.sending.moves import LeaseLost, Move, Moves, record
from crm.store import chunks, logs
from crm.vendor import LookupResult, VendorClient

log = logging.getLogger(__name__)

LOOKUP_PAGE = 1000
FINAL = {"SENT": MessageStatus.SENT, "FAILED": MessageStatus.FAILED}


def before_sending(
    chunk: dict[str, Any],
    owner: str,
    pending: list[dict[str, Any]],
    vendor: VendorClient,
    lease: timedelta,
) -> list[dict[str, Any]]:
    """Record what the vendor already has of ``pending``, keeping the chunk's lease in the
    same transaction; returns the messages it lacks."""

    def keep_lease(session: ClientSession, _: dict) -> None:
        changes = {"ambiguous": False, "lease_until": utcnow() + lease}
        if not chunks.update_leased(chunk["_id"], owner, changes, session):
            raise LeaseLost

    lacking = held_by_vendor(chunk["campaign_id"], [m["_id"] for m in pending], vendor, keep_lease)
    log.warning(
        "campaign_id=%s chunk %s: the vendor already had %d of %d messages",
        chunk["campaign_id"],
        chunk["_id"],
        len(pending) - len(lacking),
        len(pending),
    )
    return [message for message in pending if message["_id"] in lacking]


def held_by_vendor(
    campaign_id: ObjectId,
    pending_ids: list[ObjectId],
    vendor: VendorClient,
    also: Callable[[ClientSession, dict], None] | None = None,
) -> set[ObjectId]:
    """Move the PENDING messages the vendor holds on to what it says of them (with
    ``also`` in the same transaction); returns the ids it does not know."""
    answers = vendor.lookup([str(log_id) for log_id in pending_ids]) if pending_ids else []
    by_key = {answer.idempotency_key: answer for answer in answers}
    moves: Moves = {}
    lacking = set()
    for log_id in pending_ids:
        answer = by_key.get(str(log_id))
        if answer is None or not answer.known:
            lacking.add(log_id)
            continue
        target = FINAL.get(answer.final_status or "", MessageStatus.ACCEPTED)
        move = Move(campaign_id, MessageStatus.PENDING, target, answer.reason)
        moves.setdefault(move, []).append(log_id)
    held = len(pending_ids) - len(lacking)
    tallies = {campaign_id: Counter(found_at_vendor=held, not_at_vendor=len(lacking))}
    record(moves, tallies, also=also)
    return lacking


def silent_messages(
    campaign_id: ObjectId, accepted_before: datetime, give_up_before: datetime, vendor: VendorClient
) -> Counter[str]:
    """Look up the campaign's messages ACCEPTED before ``accepted_before`` and still without a
    receipt: record the outcome the vendor knows; fail those it does not know, and those
    still without an outcome since ``give_up_before``. Returns what was found."""
    found: Counter[str] = Counter()
    after = None
    while page := logs.accepted_before(campaign_id, accepted_before, after, LOOKUP_PAGE):
        after = page[-1]["_id"]
        answers = vendor.lookup([str(entry["_id"]) for entry in page])
        moves, tallies = _outcomes(campaign_id, page, answers, give_up_before)
        if moves:
            record(moves, {campaign_id: tallies})
            found += tallies
    if found:
        log.warning("campaign_id=%s silent messages looked up: %s", campaign_id, dict(found))
    return found


def _outcomes(
    campaign_id: ObjectId,
    page: list[dict[str, Any]],
    answers: list[LookupResult],
    give_up_before: datetime,
) -> tuple[Moves, Counter[str]]:
    moves: Moves = {}
    found: Counter[str] = Counter()
    by_key = {answer.idempotency_key: answer for answer in answers}
    for entry in page:
        answer = by_key.get(str(entry["_id"]))
        if answer is not None and answer.known and answer.final_status in FINAL:
            target, reason, tally = FINAL[answer.final_status], answer.reason, "receipts_recovered"
        elif answer is not None and answer.known and entry["updated_at"] >= give_up_before:
            continue  # the vendor is still working on it
        else:
            target, reason, tally = MessageStatus.FAILED, "receipt_timeout", "receipts_lost"
        found[tally] += 1
        move = Move(campaign_id, MessageStatus.ACCEPTED, target, reason)
        moves.setdefault(move, []).append(entry["_id"])
    return moves, found
