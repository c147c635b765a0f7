"""A campaign's message counts by status, kept next to the campaign instead of counted
from its logs on every read.

Every status move adds its own change (one from its source, one to its target) with one
``$inc``, so reading a campaign costs nothing however large it is. A move that could not be
counted for sure (its conditional update matched fewer logs than asked, as when a chunk is
delivered twice) marks the counts inexact; ``recount`` counts the logs again.
"""

from collections import Counter
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from crm.documents import Campaign, CampaignStatus, CommunicationLog, MessageStatus

OPEN = (MessageStatus.PENDING, MessageStatus.ACCEPTED)
SETTLED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)
# What ``lifecycle.complete_if_done`` needs of a campaign.
COMPLETION_FIELDS = {"status": 1, "materialized": 1, "counts": 1, "counts_exact": 1}

# Count changes by campaign, each a Counter of status -> change.
Deltas = dict[ObjectId, Counter[str]]


def increments(delta: Counter[str]) -> dict[str, int]:
    """The ``$inc`` of a change in counts."""
    return {f"counts.{status}": n for status, n in delta.items() if n}


def add(deltas: Deltas, exact: bool = True) -> list[dict[str, Any]]:
    """Add each campaign's changes; returns the campaigns as they are afterwards."""
    campaigns = Campaign._get_collection()
    updated = []
    for campaign_id, delta in deltas.items():
        update: dict[str, Any] = {}
        if inc := increments(delta):
            update["$inc"] = inc
        if not exact:
            update["$set"] = {"counts_exact": False}
        if not update:
            continue
        campaign = campaigns.find_one_and_update(
            {"_id": campaign_id}, update, COMPLETION_FIELDS, return_document=ReturnDocument.AFTER
        )
        if campaign is not None:
            updated.append(campaign)
    return updated


def still_open(counts: dict[str, int]) -> int:
    return sum(counts.get(str(status), 0) for status in OPEN)


def count_logs(campaign_id: ObjectId) -> dict[str, int]:
    """The campaign's messages by status, counted from its logs (one aggregation)."""
    pipeline = [
        {"$match": {"campaign_id": campaign_id}},
        {"$group": {"_id": "$status", "n": {"$sum": 1}}},
    ]
    rows = CommunicationLog._get_collection().aggregate(pipeline)
    return {row["_id"]: row["n"] for row in rows}


def recount(campaign_id: ObjectId, repair: bool) -> dict[str, Any]:
    """Count the logs again and compare with the kept counts.

    With ``repair``, a settled campaign (COMPLETED or CANCELLED, nothing in flight) takes the
    recounted figures. A campaign still sending is only compared: a move counted between the
    aggregation and the write would be counted twice.
    """
    campaign = Campaign._get_collection().find_one({"_id": campaign_id}, {"counts": 1, "status": 1})
    kept = {status: n for status, n in (campaign or {}).get("counts", {}).items() if n}
    counted = count_logs(campaign_id)
    repaired = False
    if repair and campaign and campaign["status"] in SETTLED and not still_open(counted):
        Campaign._get_collection().update_one(
            {"_id": campaign_id}, {"$set": {"counts": counted, "counts_exact": True}}
        )
        repaired = True
    return {"kept": kept, "counted": counted, "consistent": kept == counted, "repaired": repaired}
