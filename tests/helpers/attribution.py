"""Attribution as docs/results.md defines it, in plain Python: the oracle the aggregation is
checked against, and a writer of logs and orders as the product stores them."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from bson import Decimal128, ObjectId

from crm.documents import Campaign, CommunicationLog, Order
from crm.documents.campaign import Variant


@dataclass
class Touch:
    campaign_id: ObjectId
    customer_id: str
    status: str  # SENT, HELD_OUT or any other (no touch)
    at: datetime
    variant: str | None = None


@dataclass
class Figures:
    members: int = 0
    conversions: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    window_conversions: int = 0
    window_revenue: Decimal = Decimal(0)
    by_variant: dict = field(default_factory=dict)


def day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day)


def in_window(order_day: datetime, touch: datetime, days: int) -> bool:
    return day(touch) <= order_day < day(touch) + timedelta(days=days)


def oracle(touches, orders, windows):
    """{campaign id: {"messaged": Figures, "holdout": Figures}} from ``touches``, ``orders``
    ((customer_id, day, amount)) and each campaign's window in days."""
    orders_of = defaultdict(list)
    for customer_id, order_day, amount in orders:
        orders_of[customer_id].append((order_day, amount))
    sent_to = defaultdict(list)
    for touch in touches:
        if touch.status == "SENT":
            sent_to[touch.customer_id].append(touch)
    owner = {}  # (customer, order index) → the touch the order is attributed to
    for customer_id, placed in orders_of.items():
        for index, (order_day, _) in enumerate(placed):
            before = [t for t in sent_to[customer_id] if day(t.at) <= order_day]
            if not before:
                continue
            last = max(before, key=lambda t: (t.at, t.campaign_id))
            if in_window(order_day, last.at, windows[last.campaign_id]):
                owner[customer_id, index] = last
    results = defaultdict(lambda: {"messaged": Figures(), "holdout": Figures()})
    for touch in touches:
        if touch.status not in ("SENT", "HELD_OUT"):
            continue
        group = "messaged" if touch.status == "SENT" else "holdout"
        figures = [results[touch.campaign_id][group]]
        if touch.variant is not None:
            figures.append(figures[0].by_variant.setdefault(touch.variant, Figures()))
        placed = orders_of[touch.customer_id]
        window = [
            (i, amount)
            for i, (order_day, amount) in enumerate(placed)
            if in_window(order_day, touch.at, windows[touch.campaign_id])
        ]
        mine = [amount for i, amount in window if owner.get((touch.customer_id, i)) is touch]
        for each in figures:
            each.members += 1
            each.window_conversions += bool(window)
            each.window_revenue += sum((amount for _, amount in window), Decimal(0))
            each.conversions += bool(mine)
            each.orders += len(mine)
            each.revenue += sum(mine, Decimal(0))
    return results


def store(touches, orders) -> None:
    """Write ``touches`` as communication logs and ``orders`` as orders, as stored."""
    logs = []
    for touch in touches:
        entry = {
            "_id": ObjectId(),
            "campaign_id": touch.campaign_id,
            "customer_id": touch.customer_id,
            "to": f"{touch.customer_id}@example.com",
            "message": "" if touch.status == "HELD_OUT" else "Hi",
            "status": touch.status,
            "created_at": touch.at,
            "updated_at": touch.at + timedelta(seconds=5),
        }
        if touch.status == "SENT":
            entry["accepted_at"] = touch.at
        if touch.variant is not None:
            entry["variant"] = touch.variant
        logs.append(entry)
    if logs:
        CommunicationLog._get_collection().insert_many(logs)
    rows = [
        {
            "order_id": f"o{i}",
            "customer_id": customer_id,
            "order_amount": Decimal128(amount),
            "order_date": order_day,
            "created_at": order_day,
        }
        for i, (customer_id, order_day, amount) in enumerate(orders)
    ]
    if rows:
        Order._get_collection().insert_many(rows)


def campaign(window_days=7, holdout_percent=10, variants=(), campaign_id=None) -> Campaign:
    return Campaign(
        id=campaign_id or ObjectId(),
        audience_id=ObjectId(),
        message="Hi",
        status="COMPLETED",
        holdout_percent=holdout_percent,
        attribution_window_days=window_days,
        variants=[Variant(name=name, message=f"Hi {name}") for name in variants],
    ).save()
