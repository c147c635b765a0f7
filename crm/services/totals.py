"""Figures across all campaigns, read from the counts each campaign keeps."""

from crm.documents import Campaign, CampaignStatus, MessageStatus


def by_campaign_status() -> dict[CampaignStatus, tuple[int, dict[MessageStatus, int]]]:
    """For each campaign status: how many campaigns, and their messages by status.
    One aggregation over the campaigns, never over their logs."""
    sums = {status.value: {"$sum": f"$counts.{status.value}"} for status in MessageStatus}
    groups = Campaign._get_collection().aggregate(
        [{"$group": {"_id": "$status", "campaigns": {"$sum": 1}, **sums}}]
    )
    return {
        CampaignStatus(group["_id"]): (
            group["campaigns"],
            {status: group[status.value] for status in MessageStatus},
        )
        for group in groups
    }
