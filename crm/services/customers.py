from typing import Any

from bson import Decimal128
from mongoengine import QuerySet
from pymongo.errors import DuplicateKeyError

from crm.clock import utcnow
from crm.documents import Customer
from crm.services.errors import NotFound

DEFAULTS = {"total_spends": Decimal128("0"), "visit_count": 0, "attributes": {}}


def upsert(data: dict[str, Any]) -> tuple[Customer, bool]:
    """Create the customer, or update the one with the same ``customer_id``.

    Only the fields given are changed. Returns the customer and whether it is new.
    """
    fields = dict(data)
    customer_id = fields.pop("customer_id")
    if "total_spends" in fields:
        fields["total_spends"] = Decimal128(fields["total_spends"])
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


def get(customer_id: str) -> Customer:
    customer = Customer.objects(customer_id=customer_id).exclude("order_history").first()
    if customer is None:
        raise NotFound(f"No customer with customer_id {customer_id!r}.")
    return customer


def search(email: str | None = None) -> QuerySet:
    customers = Customer.objects.exclude("order_history").order_by("customer_id")
    return customers.filter(email=email) if email else customers
