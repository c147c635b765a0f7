"""Delivery receipts from the vendor: each moves its log on from the status it has now."""

from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

from crm import metrics
from crm.documents import MessageStatus
from crm.documents.status import MESSAGE_TRANSITIONS
from crm.services.sending.moves import Move, Moves, record
from crm.store import logs


@dataclass
class ReceiptOutcome:
    applied: int = 0
    unknown: list[str] = field(default_factory=list)
    # Receipts that overtook the vendor's own answer: their log is still PENDING.
    early: list[dict[str, Any]] = field(default_factory=list)


def apply(receipts: list[dict[str, Any]], hold_early: bool) -> ReceiptOutcome:
    """Apply ``{communication_log_id, status, reason}`` receipts with one read of their logs
    and one transaction.

    A receipt that would move a log backwards or out of a final status is ignored, so
    duplicate and late receipts are harmless; of two receipts for one log, the first wins.
    With ``hold_early``, a receipt whose log is still PENDING is not applied but returned,
    to be tried again once the worker that sent the message has recorded the vendor's
    answer: the log then goes PENDING → ACCEPTED → SENT in order.
    """
    ids = list(dict.fromkeys(receipt["communication_log_id"] for receipt in receipts))
    found = logs.statuses(ids)
    outcome = ReceiptOutcome(unknown=[str(i) for i in ids if i not in found])
    moves: Moves = {}
    for receipt in receipts:
        entry = found.get(receipt["communication_log_id"])
        if entry is None:
            continue
        source, target = MessageStatus(entry["status"]), MessageStatus(receipt["status"])
        if hold_early and source == MessageStatus.PENDING:
            outcome.early.append(receipt)
            continue
        if target not in MESSAGE_TRANSITIONS[source]:
            continue
        entry["status"] = target
        move = Move(entry["campaign_id"], source, target, receipt.get("reason"))
        moves.setdefault(move, []).append(ObjectId(entry["_id"]))
    outcome.applied = record(moves) if moves else 0
    metrics.count("receipts_applied", outcome.applied)
    return outcome
