"""A campaign materialised in a process of its own, as a second worker process would."""

from bson import ObjectId

from crm import db
from crm.config import Settings
from crm.services import consent
from crm.services.sending import materialize


def materialise_in_process(settings: Settings, campaign_id: str, start, page_size: int) -> None:
    """Run in a spawned process: wait at ``start`` (a barrier) for the others, then give
    the campaign's whole audience its logs and chunks, ``page_size`` at a time."""
    db.connect(settings)
    consent.configure(settings)
    start.wait(60)
    while materialize.materialize(ObjectId(campaign_id), page_size, lambda *_: "", 60):
        pass
