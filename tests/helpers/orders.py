"""Customers stored with order facts made by the write path itself."""

from datetime import datetime

from crm.services import order_facts

KEPT = ("total_spends", "visit_count", "last_visit_date")


def insert_customers(collection, customers, now: datetime) -> None:
    """Insert ``customers``; each one's ``order_history`` (``[{date, amount}]``, the
    plain list a test reads) is applied as its orders are, then its own spend, visits
    and last visit are put back."""
    for customer in customers:
        stored = {key: value for key, value in customer.items() if key != "order_history"}
        collection.insert_one(stored)
        history = customer.get("order_history")
        if not history:
            continue
        placed = [{"order_date": o["date"], "order_amount": o["amount"]} for o in history]
        collection.update_one({"_id": stored["_id"]}, order_facts.update(placed, now))
        own = {key: customer[key] for key in KEPT if key in customer}
        unset = {key: "" for key in KEPT if key not in customer}
        collection.update_one(
            {"_id": stored["_id"]}, {"$set": own, "$unset": unset} if unset else {"$set": own}
        )
