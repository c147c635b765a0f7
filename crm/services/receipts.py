"""Delivery receipts from the vendor, applied in one conditional update per outcome."""

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

from crm.documents import CommunicationLog, MessageStatus
from crm.services import lifecycle


@dataclass
class ReceiptOutcome:
    applied: int = 0
    ignored: int = 0
    unknown: list[str] = field(default_factory=list)


def apply(receipts: list[dict[str, Any]]) -> ReceiptOutcome:
    """Apply ``{communication_log_id, status, reason}`` receipts.

    A receipt that would move a log backwards or out of a final status is ignored,
    so duplicate and late receipts are harmless.
    """
    ids = [r["communication_log_id"] for r in receipts]
    known = {
        entry["_id"]: entry["campaign_id"]
        for entry in CommunicationLog._get_collection().find(
            {"_id": {"$in": ids}}, {"campaign_id": 1}
        )
    }
    outcome = ReceiptOutcome(unknown=_unknown(ids, known))
    by_outcome: dict[tuple[str, str | None], list[ObjectId]] = {}
    for receipt in receipts:
        if receipt["communication_log_id"] in known:
            key = (receipt["status"], receipt.get("reason"))
            by_outcome.setdefault(key, []).append(receipt["communication_log_id"])
    for (status, reason), log_ids in by_outcome.items():
        outcome.applied += lifecycle.move_messages(log_ids, MessageStatus(status), reason)
    outcome.ignored = sum(len(log_ids) for log_ids in by_outcome.values()) - outcome.applied
    lifecycle.complete_if_done(set(known.values()))
    return outcome


def split_unknown(receipts: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The receipts whose log exists, and the ids of those whose log does not."""
    ids = [r["communication_log_id"] for r in receipts]
    known = set(CommunicationLog.objects(id__in=ids).scalar("id"))
    return [r for r in receipts if r["communication_log_id"] in known], _unknown(ids, known)


def _unknown(ids: list[ObjectId], known: Collection[ObjectId]) -> list[str]:
    return [str(i) for i in dict.fromkeys(ids) if i not in known]
