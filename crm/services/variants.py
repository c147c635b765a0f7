"""A campaign's message variants (A/B test): checked like its message, named in order,
and when an automatic winner among them is chosen (crm/services/sending/winner.py)."""

from datetime import datetime, timedelta
from typing import Any

from crm.documents.campaign import Campaign, Variant
from crm.services import templates
from crm.services.errors import InvalidInput

NAMES = "ABCD"


def named(variants: list[dict[str, Any]]) -> list[Variant]:
    """The variants as stored, A first; InvalidInput names the first bad template."""
    for index, variant in enumerate(variants):
        try:
            templates.validate(variant["message"])
        except InvalidInput as error:
            problems = error.errors["message"]
            raise InvalidInput(
                f"Variant {NAMES[index]}: {error.message}",
                {"variants": {str(index): {"message": problems}}},
            ) from None
    return [Variant(name=NAMES[i], **variant) for i, variant in enumerate(variants)]


def decide_at(campaign: Campaign) -> datetime | None:
    """When the winner is chosen: ``decide_after_minutes`` after the campaign started."""
    if campaign.winner is None or campaign.started_at is None:
        return None
    return campaign.started_at + timedelta(minutes=campaign.winner.decide_after_minutes)
