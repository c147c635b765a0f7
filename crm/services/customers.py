import re
from typing import Any

from bson import Decimal128
from pymongo.errors import DuplicateKeyError, ExecutionTimeout

from crm import db
from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, Customer
from crm.services import attribute_keys, pages
from crm.services.errors import NotFound, QueryTooSlow

DEFAULTS = {"total_spends": Decimal128("0"), "visit_count": 0, "attributes": {}}


def upsert(data: dict[str, Any]) -> tuple[Customer, bool]:
    """Create the customer, or update the one with the same ``customer_id``.

    Only the fields given are changed. Returns the customer and whether it is new.
    """
    attribute_keys.record([data])
    fields = _stored(data)
    customer_id = fields.pop("customer_id")
    now = utcnow()
    on_insert = {key: value for key, value in DEFAULTS.items() if key not in fields}
    update = {
        "$set": {**fields, "updated_at": now},
        "$setOnInsert": {**on_insert, "created_at": now},
    }
    collection = Customer._get_collection()
    try:
        result = collection.update_one({"customer_id": customer_id}, update, upsert=True)
    except DuplicateKeyError:
        # Two first posts raced; the loser updates the winner's document.
        result = collection.update_one({"customer_id": customer_id}, update, upsert=True)
    return get(customer_id), result.upserted_id is not None


def update(customer_id: str, data: dict[str, Any]) -> Customer:
    """Change the fields given of an existing customer; NotFound if there is none."""
    attribute_keys.record([data])
    changes = {**_stored(data), "updated_at": utcnow()}
    found = Customer._get_collection().update_one({"customer_id": customer_id}, {"$set": changes})
    if found.matched_count == 0:
        raise NotFound(f"No customer with customer_id {customer_id!r}.")
    return get(customer_id)


def _stored(data: dict[str, Any]) -> dict[str, Any]:
    fields = dict(data)
    if "total_spends" in fields:
        fields["total_spends"] = Decimal128(fields["total_spends"])
    return fields


def get(customer_id: str) -> Customer:
    customer = Customer.objects(customer_id=customer_id).exclude("order_days").first()
    if customer is None:
        raise NotFound(f"No customer with customer_id {customer_id!r}.")
    return customer


def page(request: pages.Request, email: str | None = None) -> pages.Page:
    """A page of customers by customer_id, maybe only those with ``email``."""
    found = Customer.objects.exclude("order_days")
    found = found.filter(email=email) if email else found
    return pages.read(found, pages.BY_CUSTOMER_ID, request, pages.unfiltered_estimate(found))


def search(request: pages.Request, text: str) -> pages.Page:
    """A page of customers whose customer_id, name or e-mail holds ``text`` anywhere,
    ignoring case. ``text`` is matched literally (escaped, never a pattern), and a match
    inside a value cannot use an index: each page scans customers in customer_id order
    until it is full (bounded by the query timeout)."""
    anywhere = {"$regex": re.escape(text.strip()), "$options": "i"}
    found = Customer.objects.exclude("order_days").filter(
        __raw__={"$or": [{"customer_id": anywhere}, {"name": anywhere}, {"email": anywhere}]}
    )
    try:
        return pages.read(found, pages.BY_CUSTOMER_ID, request)
    except ExecutionTimeout:
        message = f"The search took longer than {db.query_timeout_ms():,} ms."
        raise QueryTooSlow(message, {"q": [f"{message} Search for more of it."]}) from None


def messages(customer_id: str, campaigns: int = 50) -> list[CommunicationLog]:
    """What the newest ``campaigns`` campaigns sent this customer, newest first; one
    lookup per campaign on the campaign_id + customer_id index."""
    ids = [c.id for c in Campaign.objects.order_by("-created_at").only("id").limit(campaigns)]
    found = CommunicationLog.objects(campaign_id__in=ids, customer_id=customer_id)
    return sorted(found, key=lambda log: log.created_at, reverse=True)
