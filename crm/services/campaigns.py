"""Campaigns as the API shows them: created as DRAFTs, listed with their counts and progress,
recounted from their logs on demand. Drafts are edited and deleted in ``crm.services.drafts``,
sent by ``crm.services.sending``."""

from typing import Any

from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Audience, Campaign, CampaignStatus, CommunicationLog, MessageStatus
from crm.documents.schedule import CampaignSchedule
from crm.services import once, pages, templates, variants
from crm.services.errors import InvalidInput, NotFound
from crm.services.sending import schedule
from crm.store import campaigns as campaign_store
from crm.store import logs as log_store

SETTLED = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


def create(data: dict[str, Any]) -> Campaign:
    return Campaign(**checked(data), vendor_accepted=0).save()


def create_once(campaign_id: ObjectId, data: dict[str, Any]) -> tuple[Campaign, bool]:
    """Create the campaign with the id its form was given, once: the same id again (the
    form sent twice) returns the campaign it made, and False."""
    return once.insert(Campaign(id=campaign_id, **checked(data), vendor_accepted=0))


def find(campaign_id: ObjectId) -> Campaign | None:
    return Campaign.objects(id=campaign_id).first()


def checked(data: dict[str, Any]) -> dict[str, Any]:
    """The fields given, as the campaign stores them, once through the checks the schema
    cannot make (templates, the audience, a schedule's start); InvalidInput names the field."""
    if "message" in data:
        templates.validate(data["message"])
    if "variants" in data:
        data = {**data, "variants": variants.named(data["variants"])}
    if "audience_id" in data and not Audience.objects(id=data["audience_id"]).only("id").first():
        raise InvalidInput(
            "The campaign's audience does not exist.",
            {"audience_id": [f"Unknown audience {data['audience_id']}."]},
        )
    if data.get("schedule") is not None:
        given = schedule.resolve(data["schedule"], None)
        schedule.check_not_past(given, utcnow())
        data = {**data, "schedule": CampaignSchedule._from_son(given)}
    return data


def get(campaign_id: ObjectId) -> Campaign:
    campaign = Campaign.objects(id=campaign_id).first()
    if campaign is None:
        raise NotFound(f"No campaign with id {campaign_id}.")
    return campaign


def newest_first():
    return Campaign.objects.order_by("-created_at", "-id")


def with_stats(found: list[Campaign]) -> list[dict[str, Any]]:
    """Campaigns as dicts, each with its message counts and progress."""
    return [_describe(campaign) for campaign in found]


def _describe(campaign: Campaign) -> dict[str, Any]:
    counts = campaign.counts or {}
    stats: dict[str, Any] = {
        status.value.lower(): counts.get(status.value, 0) for status in MessageStatus
    }
    stats["total"] = sum(counts.values())
    stats["vendor_accepted"] = _vendor_accepted(campaign)
    fields = {name: campaign[name] for name in campaign._fields}
    if campaign.winner:
        fields["winner"] = {
            **campaign.winner.to_mongo().to_dict(),
            "decide_at": variants.decide_at(campaign),
        }
    return {**fields, "stats": stats, "progress": _progress(campaign, stats)}


def _vendor_accepted(campaign: Campaign) -> int:
    if campaign.vendor_accepted is not None:
        return campaign.vendor_accepted
    # Sent before the total was kept: each log the vendor took has its accepted_at.
    return CommunicationLog.objects(campaign_id=campaign.id, accepted_at__ne=None).count()


def _progress(campaign: Campaign, stats: dict[str, int]) -> dict[str, Any]:
    done = sum(stats[status] for status in ("sent", "failed", "cancelled", "skipped", "held_out"))
    total = campaign.audience_size if campaign.materialized else stats["total"]
    rate = eta = None
    if campaign.started_at and done:
        elapsed = ((campaign.completed_at or utcnow()) - campaign.started_at).total_seconds()
        rate = done / max(elapsed, 0.001)
        eta = max(total - done, 0) / rate if campaign.status == CampaignStatus.SENDING else 0.0
    return {"done": done, "total": total, "rate_per_second": rate, "eta_seconds": eta}


def recount(campaign_id: ObjectId, repair: bool) -> dict[str, Any]:
    """Count the logs again and compare with the kept counts.

    With ``repair``, a settled campaign (nothing in flight) takes the recounted figures:
    for campaigns from before counts were kept in the same transaction as the moves.
    """
    campaign = get(campaign_id)
    kept = {status: n for status, n in (campaign.counts or {}).items() if n}
    counted = log_store.count_by_status(campaign_id)
    repaired = False
    in_flight = any(counted.get(str(status)) for status in campaign_store.OPEN)
    if repair and campaign.status in SETTLED and not in_flight and kept != counted:
        campaign_store.set_counts(campaign_id, counted)
        repaired = True
    return {"kept": kept, "counted": counted, "consistent": kept == counted, "repaired": repaired}


def logs(
    campaign: Campaign, request: pages.Request, status: MessageStatus | None = None
) -> pages.Page:
    """A page of the campaign's logs in creation order; the total from its kept counts."""
    found = CommunicationLog.objects(campaign_id=campaign.id)
    found = found.filter(status=status) if status else found
    kept = campaign.counts or {}
    total = kept.get(status.value, 0) if status else sum(kept.values())
    return pages.read(found, pages.OLDEST_ID, request, lambda: total)


def log(log_id: ObjectId) -> CommunicationLog:
    entry = CommunicationLog.objects(id=log_id).first()
    if entry is None:
        raise NotFound(f"No communication log with id {log_id}.")
    return entry
