"""Applies delivery receipts queued by the API, one batch per queue message."""

from typing import Any

import dramatiq
from bson import ObjectId

from crm.services import receipts


@dramatiq.actor(
    queue_name="receipts", max_retries=10, min_backoff=500, max_backoff=30_000, time_limit=60_000
)
def apply_receipts(batch: list[dict[str, Any]], campaign_ids: list[str]) -> None:
    """Apply receipts the API found logs for; ``campaign_ids`` are the campaigns they touch."""
    receipts.apply_known(
        [{**r, "communication_log_id": ObjectId(r["communication_log_id"])} for r in batch],
        {ObjectId(campaign_id) for campaign_id in campaign_ids},
    )
