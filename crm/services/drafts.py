"""Draft campaigns edited or deleted. Each is one write conditional on the campaign still
being a DRAFT, so a campaign scheduled, sent or cancelled meanwhile is never touched: the
caller gets InvalidTransition (a 409) and the campaign stays as it was."""

from typing import Any

from bson import ObjectId

from crm.documents import Campaign, CampaignStatus, CommunicationLog
from crm.services import campaigns
from crm.services.errors import InvalidInput, InvalidTransition

BOTH_CAP_RULES = "Give a frequency_cap or ignore_frequency_cap, not both."


def edit(campaign_id: ObjectId, changes: dict[str, Any]) -> Campaign:
    """Change the fields in ``changes`` (as ``CampaignPatchSchema`` loads them)."""
    return apply(campaign_id, prepare(_draft(campaign_id, "edited"), changes))


def prepare(draft: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """The update that makes ``changes``, checked as on creation; the rule that spans two
    fields is checked against what the draft keeps of the other."""
    fields = campaigns.checked(changes)
    cap = fields.get("frequency_cap", draft.frequency_cap)
    if cap and fields.get("ignore_frequency_cap", draft.ignore_frequency_cap):
        raise InvalidInput(BOTH_CAP_RULES, {"frequency_cap": [BOTH_CAP_RULES]})
    return {
        f"unset__{name}" if value is None else f"set__{name}": True if value is None else value
        for name, value in fields.items()
    }


def apply(campaign_id: ObjectId, update: dict[str, Any]) -> Campaign:
    """``update`` in one write, if the campaign is still a DRAFT; returns it as changed."""
    edited = Campaign.objects(id=campaign_id, status=CampaignStatus.DRAFT).modify(
        new=True, **update
    )
    if edited is None:
        raise _not_a_draft(campaign_id, "edited")
    return edited


def delete(campaign_id: ObjectId) -> None:
    """Delete a DRAFT. Any other campaign, and one with message logs, is history and stays."""
    if CommunicationLog.objects(campaign_id=campaign_id).only("id").first():
        campaign = campaigns.get(campaign_id)
        if campaign.status == CampaignStatus.DRAFT:  # sent once, then taken back (a failed start)
            raise InvalidTransition(f"Campaign {campaign_id} has messages; it cannot be deleted.")
        raise _not_a_draft(campaign_id, "deleted", campaign)
    if not Campaign.objects(id=campaign_id, status=CampaignStatus.DRAFT).delete():
        raise _not_a_draft(campaign_id, "deleted")


def _draft(campaign_id: ObjectId, verb: str) -> Campaign:
    campaign = campaigns.get(campaign_id)
    if campaign.status != CampaignStatus.DRAFT:
        raise _not_a_draft(campaign_id, verb, campaign)
    return campaign


def _not_a_draft(
    campaign_id: ObjectId, verb: str, campaign: Campaign | None = None
) -> InvalidTransition:
    """The refusal, naming the status now (NotFound if the campaign is gone meanwhile)."""
    status = (campaign or campaigns.get(campaign_id)).status
    return InvalidTransition(f"Campaign {campaign_id} is {status}; only a DRAFT can be {verb}.")
