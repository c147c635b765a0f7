"""Messages change status in the same transaction as the campaign counts that count them,
so a count is never negative, the counts always add up to the logs that exist, and a
campaign is COMPLETED in that transaction as soon as nothing is left in flight.

Every move is a conditional update from the status it names (``MESSAGE_TRANSITIONS``), so
a redelivered task or a repeated receipt cannot act twice or move anything backwards.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo.client_session import ClientSession

from crm.clock import utcnow
from crm.documents import MessageStatus
from crm.documents.status import MESSAGE_TRANSITIONS
from crm.store import campaigns, contacts, logs, transaction

TAKEN_BY_VENDOR = (MessageStatus.ACCEPTED, MessageStatus.SENT)
# Why messages are FAILED when the vendor was failing for the whole outage budget and
# certainly never took them.
VENDOR_UNAVAILABLE = "vendor_unavailable"


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
        if self.taken_by_vendor:
            changes["accepted_at"] = at
        return changes

    @property
    def never_sent(self) -> bool:
        """Whether the move settles messages that never left: cancelled, or given up on
        while the vendor certainly had not taken them."""
        gave_up = self.target == MessageStatus.FAILED and self.reason == VENDOR_UNAVAILABLE
        return self.target == MessageStatus.CANCELLED or gave_up

    @property
    def taken_by_vendor(self) -> bool:
        """Whether the move records the vendor taking the message (its ``accepted_at``)."""
        return self.source == MessageStatus.PENDING and self.target in TAKEN_BY_VENDOR

    def delta(self, n: int) -> Counter[str]:
        """The change in counts: by status, and ``VENDOR_ACCEPTED`` for messages taken."""
        delta = Counter({str(self.source): -n, str(self.target): n})
        if self.taken_by_vendor:
            delta[campaigns.VENDOR_ACCEPTED] = n
        return delta


Moves = dict[Move, list[ObjectId]]


class LeaseLost(Exception):
    """Someone else holds the chunk now; what this worker learnt is left for them."""


class _Unexpected(Exception):
    """Some named logs were not in their move's source status: count them first."""


def record(
    moves: Moves,
    tallies: dict[ObjectId, Counter[str]] | None = None,
    also: Callable[[ClientSession, dict[ObjectId, dict]], None] | None = None,
) -> int:
    """Apply ``moves`` in one transaction with their counts (and ``also``, given the
    campaigns as they are after it); returns how many logs moved.

    One bulk write when every log is where its move expects it (the usual case); when some
    are not (a duplicate receipt, a chunk delivered again), the logs are read first inside
    the transaction and only those in the source status are moved and counted.
    """
    try:
        return transaction.run(lambda session: _apply(moves, tallies, also, session, False))
    except _Unexpected:
        return transaction.run(lambda session: _apply(moves, tallies, also, session, True))


def _apply(
    moves: Moves,
    tallies: dict[ObjectId, Counter[str]] | None,
    also: Callable[[ClientSession, dict[ObjectId, dict]], None] | None,
    session: ClientSession,
    read_first: bool,
) -> int:
    if read_first:
        moves = _still_movable(moves, session)
    now = utcnow()
    updates = [
        (log_id, move.source, move.changes(now)) for move, ids in moves.items() for log_id in ids
    ]
    if logs.update_each(updates, session) != len(updates):
        raise _Unexpected
    deltas: dict[ObjectId, Counter[str]] = {}
    for move, ids in moves.items():
        deltas.setdefault(move.campaign_id, Counter()).update(move.delta(len(ids)))
    for campaign_id in tallies or {}:
        deltas.setdefault(campaign_id, Counter())
    after = _count(deltas, tallies or {}, session)
    if also is not None:
        also(session, after)
    return len(updates)


def move_where(
    query: dict[str, Any], move: Move, session: ClientSession, tallies: Counter[str] | None = None
) -> int:
    """Move every log of the move's campaign matching ``query``, inside ``session``. A
    message that will never be sent gives its contact back (``contacts.refund``)."""
    query = {**query, "campaign_id": move.campaign_id}
    never_sent = []
    if move.never_sent:
        never_sent = logs.customers_where(query, move.source, session)
    moved = logs.update_where(query, move.source, move.changes(utcnow()), session)
    contacts.refund(move.campaign_id, never_sent, session)
    _count({move.campaign_id: move.delta(moved)}, {move.campaign_id: tallies or Counter()}, session)
    return moved


def _count(
    deltas: dict[ObjectId, Counter[str]],
    tallies: dict[ObjectId, Counter[str]],
    session: ClientSession,
) -> dict[ObjectId, dict[str, Any]]:
    after = {}
    for campaign_id, delta in deltas.items():
        campaign = campaigns.add_counts(campaign_id, delta, session, tallies.get(campaign_id))
        if campaign is None:
            continue
        if _nothing_open(campaign) and campaigns.complete_if_done(campaign_id, session):
            campaign["status"] = "COMPLETED"
        after[campaign_id] = campaign
    return after


def _nothing_open(campaign: dict[str, Any]) -> bool:
    counts = campaign.get("counts", {})
    return not any(counts.get(str(status)) for status in campaigns.OPEN)


def _still_movable(moves: Moves, session: ClientSession) -> Moves:
    found = logs.statuses([log_id for ids in moves.values() for log_id in ids], session)
    seen: set[ObjectId] = set()
    movable: Moves = {}
    for move, ids in moves.items():
        movable[move] = [i for i in ids if i not in seen and _in(found.get(i), move.source)]
        seen.update(movable[move])
    return movable


def _in(entry: dict[str, Any] | None, status: MessageStatus) -> bool:
    return entry is not None and entry["status"] == status
