"""Status changes as conditional updates: each applies only from the status it names, so a
redelivered task or a repeated receipt cannot act twice or move anything backwards. Every
move is counted into its campaign's counts (``counters``)."""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne

from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.documents.status import CAMPAIGN_TRANSITIONS, MESSAGE_TRANSITIONS, sources_of
from crm.services import counters


def move_campaign(
    campaign_id: ObjectId,
    target: CampaignStatus,
    only_if: dict[str, Any] | None = None,
    **fields: Any,
) -> bool:
    """Move to ``target`` if the status (and ``only_if``) allow; returns whether it moved."""
    query = {"_id": campaign_id, "status": {"$in": sources_of(CAMPAIGN_TRANSITIONS, target)}}
    result = Campaign._get_collection().update_one(
        {**query, **(only_if or {})}, {"$set": {"status": str(target), **fields}}
    )
    return result.modified_count == 1


@dataclass(frozen=True)
class Move:
    """Logs of one campaign going from one status to another, for one reason."""

    campaign_id: ObjectId
    source: MessageStatus
    target: MessageStatus
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.target not in MESSAGE_TRANSITIONS[self.source]:
            raise ValueError(f"a message cannot go from {self.source} to {self.target}")

    def changes(self, at: datetime) -> dict[str, Any]:
        changes: dict[str, Any] = {"status": str(self.target), "updated_at": at}
        if self.reason is not None:
            changes["reason"] = self.reason
        return changes


def move_messages(moves: dict[Move, list[ObjectId]]) -> int:
    """Apply every move in one bulk write and count it; returns how many logs moved.

    One statement per log: on MongoDB-protocol servers an ``_id`` equality is the cheapest
    match there is. If fewer logs moved than were named, ``_moved_now`` finds which, so
    only those are counted; the counts are then marked inexact, since a named log that
    did not move may have been moved by an earlier attempt that stopped before counting.
    """
    now = utcnow()
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # as BSON stores it
    statements = [
        UpdateOne({"_id": log_id, "status": str(move.source)}, {"$set": move.changes(now)})
        for move, log_ids in moves.items()
        for log_id in log_ids
    ]
    if not statements:
        return 0
    moved = CommunicationLog._get_collection().bulk_write(statements, ordered=False).modified_count
    exact = moved == len(statements)
    if not exact:
        moves = _moved_now(moves, now)
    deltas: counters.Deltas = {}
    for move, log_ids in moves.items():
        delta = deltas.setdefault(move.campaign_id, Counter())
        delta[str(move.source)] -= len(log_ids)
        delta[str(move.target)] += len(log_ids)
    complete_if_done(counters.add(deltas, exact))
    return moved


def _moved_now(moves: dict[Move, list[ObjectId]], now: datetime) -> dict[Move, list[ObjectId]]:
    """Of the logs named, those this call moved: at the move's target, stamped ``now``."""
    ids = [log_id for log_ids in moves.values() for log_id in log_ids]
    found = CommunicationLog._get_collection().find(
        {"_id": {"$in": ids}}, {"status": 1, "updated_at": 1}, batch_size=len(ids), limit=len(ids)
    )
    now_at = {entry["_id"]: entry["status"] for entry in found if entry["updated_at"] == now}
    return {
        move: [log_id for log_id in log_ids if now_at.get(log_id) == move.target]
        for move, log_ids in moves.items()
    }


def move_messages_where(query: dict[str, Any], move: Move) -> int:
    """Move every log of the move's campaign matching ``query``, in one command."""
    result = CommunicationLog._get_collection().update_many(
        {**query, "campaign_id": move.campaign_id, "status": str(move.source)},
        {"$set": move.changes(utcnow())},
    )
    moved = result.modified_count
    delta = Counter({str(move.source): -moved, str(move.target): moved})
    complete_if_done(counters.add({move.campaign_id: delta}))
    return moved


def complete_if_done(campaigns: list[dict[str, Any]], look_anyway: bool = False) -> None:
    """Complete each fully materialised SENDING campaign that has no message left in flight.

    The counts say when to look (``look_anyway`` looks regardless); the logs decide, so
    counts that are off can delay a completion but never make one early. Completing
    while the counts still show messages in flight marks them inexact.
    """
    logs = CommunicationLog._get_collection()
    for campaign in campaigns:
        if campaign["status"] != CampaignStatus.SENDING or not campaign.get("materialized"):
            continue
        in_flight = counters.still_open(campaign.get("counts", {}))
        if in_flight > 0 and campaign.get("counts_exact", True) and not look_anyway:
            continue
        open_statuses = [str(status) for status in counters.OPEN]
        if logs.find_one({"campaign_id": campaign["_id"], "status": {"$in": open_statuses}}):
            continue
        fields: dict[str, Any] = {"completed_at": utcnow()}
        if in_flight:
            fields["counts_exact"] = False
        move_campaign(campaign["_id"], CampaignStatus.COMPLETED, {"materialized": True}, **fields)


def completion_check(campaign_id: ObjectId) -> None:
    """``complete_if_done`` for a campaign known only by id."""
    campaign = Campaign._get_collection().find_one({"_id": campaign_id}, counters.COMPLETION_FIELDS)
    complete_if_done([campaign] if campaign else [])
