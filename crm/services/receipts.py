"""Delivery receipts from the vendor, applied in one conditional update per outcome."""

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


@dataclass
class Sorted:
    """Receipts split by whether their log exists, with the campaigns the known ones touch."""

    known: list[dict[str, Any]]
    unknown: list[str]
    campaign_ids: set[ObjectId]


def sort_out(receipts: list[dict[str, Any]]) -> Sorted:
    """One look-up of the receipts' logs."""
    ids = [r["communication_log_id"] for r in receipts]
    found = CommunicationLog._get_collection().find(
        {"_id": {"$in": ids}}, {"campaign_id": 1}, batch_size=len(ids), limit=len(ids)
    )
    campaign_of = {entry["_id"]: entry["campaign_id"] for entry in found}
    return Sorted(
        known=[r for r in receipts if r["communication_log_id"] in campaign_of],
        unknown=[str(i) for i in dict.fromkeys(ids) if i not in campaign_of],
        campaign_ids=set(campaign_of.values()),
    )


def apply(receipts: list[dict[str, Any]]) -> ReceiptOutcome:
    """Apply ``{communication_log_id, status, reason}`` receipts, reporting unknown ids."""
    sorted_out = sort_out(receipts)
    applied = apply_known(sorted_out.known, sorted_out.campaign_ids)
    ignored = len(sorted_out.known) - applied
    return ReceiptOutcome(applied=applied, ignored=ignored, unknown=sorted_out.unknown)


def apply_known(receipts: list[dict[str, Any]], campaign_ids: set[ObjectId]) -> int:
    """Apply receipts whose logs exist, one conditional update per outcome; returns how many
    changed a log.

    A receipt that would move a log backwards or out of a final status is ignored, so
    duplicate and late receipts are harmless.
    """
    by_outcome: dict[tuple[str, str | None], list[ObjectId]] = {}
    for receipt in receipts:
        key = (receipt["status"], receipt.get("reason"))
        by_outcome.setdefault(key, []).append(receipt["communication_log_id"])
    applied = lifecycle.move_messages_together(
        [
            (lifecycle.with_ids(log_ids), MessageStatus(status), reason)
            for (status, reason), log_ids in by_outcome.items()
        ]
    )
    lifecycle.complete_if_done(campaign_ids)
    return applied
