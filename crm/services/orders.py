"""Orders, and the customer aggregates each order moves.

An order and its effect on the customer (spend, visits, last visit, and the order
facts audience rules read, see ``order_facts``) are written in
one transaction, so a retried or concurrent post can neither count an order twice
nor leave an order without its effect.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128
from pymongo import UpdateOne
from pymongo.client_session import ClientSession
from pymongo.errors import DuplicateKeyError

from crm.clock import utcnow
from crm.documents import Customer, Order
from crm.documents.customer import MAX_MONEY, MAX_VISITS
from crm.services import order_facts, pages
from crm.services.errors import Conflict, InvalidInput, NotFound

COMPARED_FIELDS = ("customer_id", "order_amount", "order_date")


def record(data: dict[str, Any]) -> tuple[Order, bool]:
    """Store the order and apply it to its customer; returns the order and whether it is new.

    Posting an order again with the same content changes nothing.
    """
    orders = Order._get_collection()
    document = order_document(data, utcnow())

    def apply(session: ClientSession) -> None:
        orders.insert_one(dict(document), session=session)
        _check_room(data, session)
        apply_to_customers([document], session)

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


def _check_room(data: dict[str, Any], session: ClientSession) -> None:
    """The order's customer exists and can take one more order without its spend or visit
    count passing the documented maximum (read in the order's transaction: a concurrent
    order to the same customer makes one of the two retry and see the other)."""
    customer = Customer._get_collection().find_one(
        {"customer_id": data["customer_id"]},
        {"total_spends": 1, "visit_count": 1},
        session=session,
    )
    if customer is None:
        raise InvalidInput(
            "The order's customer does not exist; create the customer first.",
            {"json": {"customer_id": [f"Unknown customer {data['customer_id']!r}."]}},
        )
    spend = customer.get("total_spends", Decimal128("0")).to_decimal()
    if spend + Decimal(str(data["order_amount"])) > MAX_MONEY:
        raise Conflict(
            f"The order would take the customer's total_spends past {MAX_MONEY}.",
            {"json": {"order_amount": [f"The customer's total_spends is already {spend}."]}},
        )
    if customer.get("visit_count", 0) + 1 > MAX_VISITS:
        raise Conflict(
            f"The customer already has the most visits counted ({MAX_VISITS}).",
            {"json": {"customer_id": ["visit_count is at its maximum."]}},
        )


def get(order_id: str) -> Order:
    order = Order.objects(order_id=order_id).first()
    if order is None:
        raise NotFound(f"No order with order_id {order_id!r}.")
    return order


def page(request: pages.Request, customer_id: str | None = None) -> pages.Page:
    """A page of orders, newest first, maybe only one customer's."""
    found = Order.objects.filter(customer_id=customer_id) if customer_id else Order.objects
    return pages.read(found, pages.NEWEST_ORDERS, request, pages.unfiltered_estimate(found))


def order_document(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """The stored form of a validated order: money as Decimal128."""
    return {**data, "order_amount": Decimal128(str(data["order_amount"])), "created_at": now}


def apply_to_customers(documents: Iterable[Mapping[str, Any]], session: ClientSession) -> int:
    """Add stored-form orders to their customers; returns how many of those customers
    exist (an order for a missing one changes nothing)."""
    updates = customer_updates(documents)
    if not updates:
        return 0
    result = Customer._get_collection().bulk_write(updates, ordered=False, session=session)
    return result.matched_count


def customer_updates(documents: Iterable[Mapping[str, Any]]) -> list[UpdateOne]:
    """One update per customer adding its orders' effect: the one place that effect is
    defined, for the single and the bulk path alike."""
    by_customer: dict[str, list[Mapping[str, Any]]] = {}
    for document in documents:
        by_customer.setdefault(document["customer_id"], []).append(document)
    now = utcnow()
    return [
        UpdateOne({"customer_id": customer_id}, order_facts.update(placed, now))
        for customer_id, placed in by_customer.items()
    ]
