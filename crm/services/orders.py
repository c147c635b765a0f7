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
from crm.store import order_days

COMPARED_FIELDS = ("customer_id", "order_amount", "order_date")
ROOM_FIELDS = {"customer_id": 1, "total_spends": 1, "visit_count": 1}
NO_ROOM = (
    f"The customer cannot take this order: its total_spends would pass {MAX_MONEY} "
    f"or its visit_count {MAX_VISITS}."
)


def record(data: dict[str, Any]) -> tuple[Order, bool]:
    """Store the order and apply it to its customer; returns the order and whether it is new.

    Posting an order again with the same content changes nothing.
    """
    orders = Order._get_collection()
    document = order_document(data, utcnow())

    def apply(session: ClientSession) -> None:
        orders.insert_one(dict(document), session=session)
        order_days.mark([document["order_date"]], session)
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
                {"order_id": ["Already used by another order."]},
            ) from None
        return existing, False
    return get(data["order_id"]), True


def _check_room(data: dict[str, Any], session: ClientSession) -> None:
    """The order's customer exists and can take one more order without its spend or visit
    count passing the documented maximum (read in the order's transaction: a concurrent
    order to the same customer makes one of the two retry and see the other)."""
    customer = Customer._get_collection().find_one(
        {"customer_id": data["customer_id"]}, ROOM_FIELDS, session=session
    )
    if customer is None:
        raise InvalidInput(
            "The order's customer does not exist; create the customer first.",
            {"customer_id": [f"Unknown customer {data['customer_id']!r}."]},
        )
    if not _has_room(customer, Decimal(str(data["order_amount"])), 1):
        raise Conflict(NO_ROOM, {"order_amount": [NO_ROOM]})


def without_room(documents: Iterable[Mapping[str, Any]]) -> set[str]:
    """The order ids, among stored-form orders in their given order, that their (existing)
    customers cannot take: each customer takes its orders until the next would pass a
    documented maximum."""
    by_customer = group_by_customer(documents)
    found = Customer._get_collection().find(
        {"customer_id": {"$in": list(by_customer)}}, ROOM_FIELDS
    )
    refused: set[str] = set()
    for customer in found:
        taken: list[Mapping[str, Any]] = []
        for order in by_customer[customer["customer_id"]]:
            if _has_room(customer, *_spend_and_visits([*taken, order])):
                taken.append(order)
            else:
                refused.add(order["order_id"])
    return refused


def _has_room(customer: Mapping[str, Any], spend: Decimal, visits: int) -> bool:
    spent = customer.get("total_spends", Decimal128("0")).to_decimal()
    return spent + spend <= MAX_MONEY and customer.get("visit_count", 0) + visits <= MAX_VISITS


def _spend_and_visits(placed: list[Mapping[str, Any]]) -> tuple[Decimal, int]:
    return sum((order["order_amount"].to_decimal() for order in placed), Decimal(0)), len(placed)


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
    took them (an order for a missing customer, or one it has no room for, changes
    nothing).

    Room is read in the same transaction as the writes, so a concurrent order to one of
    these customers makes one of the two conflict and retry. Every read and write is
    bounded by the ``customer_id`` index: a filter with anything beside the key (an
    ``$expr``, a range) would cost a scan of every customer on servers that cannot
    combine it with the index, once per customer.
    """
    by_customer = group_by_customer(documents)
    if not by_customer:
        return 0
    found = Customer._get_collection().find(
        {"customer_id": {"$in": list(by_customer)}}, ROOM_FIELDS, session=session
    )
    able = {
        customer["customer_id"]: by_customer[customer["customer_id"]]
        for customer in found
        if _has_room(customer, *_spend_and_visits(by_customer[customer["customer_id"]]))
    }
    if able:
        Customer._get_collection().bulk_write(
            customer_updates(able), ordered=False, session=session
        )
    return len(able)


def customer_updates(by_customer: Mapping[str, list[Mapping[str, Any]]]) -> list[UpdateOne]:
    """One update per customer adding its orders' effect: the one place that effect is
    defined, for the single and the bulk path alike. Filtered by the key alone."""
    now = utcnow()
    return [
        UpdateOne({"customer_id": customer_id}, order_facts.update(placed, now))
        for customer_id, placed in by_customer.items()
    ]


def group_by_customer(documents: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for document in documents:
        grouped.setdefault(document["customer_id"], []).append(document)
    return grouped
