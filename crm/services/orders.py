"""Orders, and the customer aggregates each order moves.

An order and its effect on the customer (spend, visits, last visit) are written in
one transaction, so a retried or concurrent post can neither count an order twice
nor leave an order without its effect.
"""

from typing import Any

from bson import Decimal128
from mongoengine import QuerySet
from pymongo import ReturnDocument
from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError

from crm.documents import Customer, Order
from crm.documents.customer import utcnow
from crm.services.errors import Conflict, InvalidInput, NotFound

COMPARED_FIELDS = ("customer_id", "order_amount", "order_date")


def record(data: dict[str, Any]) -> tuple[Order, bool]:
    """Store the order and apply it to its customer; returns the order and whether it is new.

    Posting an order again with the same content changes nothing.
    """
    orders = Order._get_collection()
    customers = Customer._get_collection()
    now = utcnow()
    document = {**data, "order_amount": Decimal128(data["order_amount"]), "created_at": now}

    def apply(session: ClientSession) -> None:
        orders.insert_one(dict(document), session=session)
        customer = customers.find_one_and_update(
            {"customer_id": data["customer_id"]},
            {
                "$inc": {"total_spends": document["order_amount"], "visit_count": 1},
                "$max": {"last_visit_date": data["order_date"]},
                "$set": {"updated_at": now},
            },
            projection={"_id": 1},
            return_document=ReturnDocument.AFTER,
            session=session,
        )
        if customer is None:
            raise InvalidInput(
                "The order's customer does not exist; create the customer first.",
                {"json": {"customer_id": [f"Unknown customer {data['customer_id']!r}."]}},
            )

    try:
        with orders.database.client.start_session() as session:
            session.with_transaction(apply)
    except DuplicateKeyError:
        existing = get(data["order_id"])
        if any(getattr(existing, name) != data[name] for name in COMPARED_FIELDS):
            raise Conflict(
                f"Order {data['order_id']!r} already exists with different details.",
                {"json": {"order_id": ["Already used by another order."]}},
            ) from None
        return existing, False
    return get(data["order_id"]), True


def get(order_id: str) -> Order:
    order = Order.objects(order_id=order_id).first()
    if order is None:
        raise NotFound(f"No order with order_id {order_id!r}.")
    return order


def search(customer_id: str | None = None) -> QuerySet:
    orders = Order.objects.order_by("-order_date", "-id")
    return orders.filter(customer_id=customer_id) if customer_id else orders
