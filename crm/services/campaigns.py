from typing import Any

from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Audience, Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.services import counters, lifecycle, templates
from crm.services.errors import InvalidInput, InvalidTransition, NotFound
from crm.services.lifecycle import Move


def create(data: dict[str, Any]) -> Campaign:
    templates.validate(data["message"])
    if not Audience.objects(id=data["audience_id"]).only("id").first():
        raise InvalidInput(
            "The campaign's audience does not exist.",
            {"json": {"audience_id": [f"Unknown audience {data['audience_id']}."]}},
        )
    return Campaign(**data).save()


def get(campaign_id: ObjectId) -> Campaign:
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None:
        raise NotFound(f"No campaign with id {campaign_id}.")
    return campaign


def newest_first():
    return Campaign.objects.order_by("-created_at", "-id")


def start(campaign_id: ObjectId) -> Campaign:
    """Move a DRAFT campaign to SENDING; the caller then hands it to the workers."""
    campaign = get(campaign_id)
    if not Audience.objects(id=campaign.audience_id).only("id").first():
        raise InvalidTransition("The campaign's audience was deleted; it cannot be sent.")
    if not lifecycle.move_campaign(campaign_id, CampaignStatus.SENDING, started_at=utcnow()):
        raise InvalidTransition(
            f"Campaign {campaign_id} is {get(campaign_id).status}; only a DRAFT can be sent."
        )
    return get(campaign_id)


def pause(campaign_id: ObjectId) -> Campaign:
    """Stop handing out chunks; messages already with the vendor still get their receipts."""
    return _move(campaign_id, CampaignStatus.PAUSED)


def resume(campaign_id: ObjectId) -> Campaign:
    """Back to SENDING; the caller then has the workers pick up what is still PENDING."""
    return _move(campaign_id, CampaignStatus.SENDING)


def cancel(campaign_id: ObjectId) -> Campaign:
    """Stop the campaign for good: messages not yet handed to the vendor are CANCELLED."""
    _move(campaign_id, CampaignStatus.CANCELLED, completed_at=utcnow())
    cancel_pending = Move(campaign_id, MessageStatus.PENDING, MessageStatus.CANCELLED)
    lifecycle.move_messages_where({}, cancel_pending)
    return get(campaign_id)


def _move(campaign_id: ObjectId, target: CampaignStatus, **fields: Any) -> Campaign:
    if not lifecycle.move_campaign(campaign_id, target, **fields):
        status = get(campaign_id).status
        raise InvalidTransition(f"Campaign {campaign_id} is {status}; it cannot become {target}.")
    return get(campaign_id)


def undo_start(campaign_id: ObjectId) -> None:
    """Return a campaign to DRAFT when its send could not be queued at all."""
    Campaign._get_collection().update_one(
        {"_id": campaign_id, "status": str(CampaignStatus.SENDING), "cursor": None},
        {"$set": {"status": str(CampaignStatus.DRAFT), "started_at": None}},
    )


def with_stats(campaigns: list[Campaign]) -> list[dict[str, Any]]:
    """Campaigns as dicts, each with its message counts and progress."""
    return [_describe(campaign) for campaign in campaigns]


def _describe(campaign: Campaign) -> dict[str, Any]:
    counts = campaign.counts or {}
    stats: dict[str, Any] = {
        status.value.lower(): counts.get(status.value, 0) for status in MessageStatus
    }
    stats["total"] = sum(counts.values())
    fields = {name: campaign[name] for name in campaign._fields}
    return {**fields, "stats": stats, "progress": _progress(campaign, stats)}


def recount(campaign_id: ObjectId, repair: bool) -> dict[str, Any]:
    get(campaign_id)
    return counters.recount(campaign_id, repair)


def _progress(campaign: Campaign, stats: dict[str, int]) -> dict[str, Any]:
    done = stats["sent"] + stats["failed"] + stats["cancelled"]
    total = campaign.audience_size if campaign.materialized else stats["total"]
    rate = eta = None
    if campaign.started_at and done:
        elapsed = ((campaign.completed_at or utcnow()) - campaign.started_at).total_seconds()
        rate = done / max(elapsed, 0.001)
        eta = max(total - done, 0) / rate if campaign.status == CampaignStatus.SENDING else 0.0
    return {"done": done, "total": total, "rate_per_second": rate, "eta_seconds": eta}


def logs(campaign_id: ObjectId, status: MessageStatus | None = None):
    entries = CommunicationLog.objects(campaign_id=campaign_id).order_by("id")
    return entries.filter(status=status) if status else entries


def log(log_id: ObjectId) -> CommunicationLog:
    entry = CommunicationLog.objects(id=log_id).first()
    if entry is None:
        raise NotFound(f"No communication log with id {log_id}.")
    return entry
