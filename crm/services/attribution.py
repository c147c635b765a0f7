"""A campaign's results: orders attributed to its messages, and lift over its holdout.

Definitions (orders are dated by day, so the window is counted in days):

- A member's **touch** is when the vendor took the message (``accepted_at``; for logs
  from before it was kept, the time the log became SENT) for a SENT log, and, for a
  HELD_OUT log, when it was made (the moment it would have been sent).
- An order is **in the window** of a touch if its day is between the touch's day and
  ``attribution_window_days`` days later (that day included, the last excluded): an order
  the same day as the message counts, one the day before does not.
- **Attributed** (last touch): an order in the window of a SENT message goes to the
  campaign whose SENT message to that customer was the latest one on or before the order's
  day (equal touch times: the campaign with the greater id). Conversions are customers
  with at least one attributed order; revenue sums those orders.
- **Lift** compares like with like: the share of messaged members (SENT) and of holdout
  members with any order in their own window, whoever else messaged them, since the
  holdout members cannot be credited by last touch (``crm/services/lift.py``).

One aggregation over the campaign's logs computes it all: per log, one index seek into
``orders`` (``customer_id, order_date``) for the window's orders and one into
``communication_logs`` (``customer_id, accepted_at``) for the customer's later touches.
"""

from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from pymongo.errors import ExecutionTimeout

from crm import db
from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, MessageStatus, Order
from crm.services import campaigns, lift
from crm.services.errors import QueryTooSlow

SENT, HELD_OUT = str(MessageStatus.SENT), str(MessageStatus.HELD_OUT)
CENT = Decimal("0.01")


def report(campaign_id: ObjectId) -> dict[str, Any]:
    campaign = campaigns.get(campaign_id)
    logs = CommunicationLog._get_collection()
    limit = db.results_timeout_ms()
    try:
        [found] = logs.aggregate(_pipeline(campaign), maxTimeMS=limit)
    except ExecutionTimeout:
        raise QueryTooSlow(
            f"The campaign's results took longer than the {limit:,} ms limit "
            "(CRM_RESULTS_TIMEOUT_MS)."
        ) from None
    groups = {(row["_id"]["held_out"], row["_id"].get("variant")): row for row in found["groups"]}
    holdout = _sum(row for (held_out, _), row in groups.items() if held_out)
    messaged = _sum(row for (held_out, _), row in groups.items() if not held_out)
    delivery: dict[str | None, dict[str, int]] = {}
    for row in found["delivery"]:
        delivery.setdefault(row["_id"].get("variant"), {})[row["_id"]["status"]] = row["n"]
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "attribution_window_days": campaign.attribution_window_days,
        "holdout_percent": campaign.holdout_percent,
        "computed_at": utcnow(),
        "messaged": _messaged(messaged),
        "holdout": _holdout(holdout),
        "lift": _lift(messaged, holdout),
        "variants": [
            {
                "name": variant.name,
                "weight": variant.weight,
                "delivery": delivery.get(variant.name, {}),
                "messaged": _messaged(groups.get((False, variant.name), {})),
                "lift": _lift(groups.get((False, variant.name), {}), holdout),
            }
            for variant in campaign.variants
        ],
    }


def _pipeline(campaign: Campaign) -> list[dict[str, Any]]:
    touch = {"$ifNull": ["$accepted_at", "$updated_at"]}
    window_orders = {
        "from": Order._get_collection().name,
        "localField": "customer_id",
        "foreignField": "customer_id",
        "let": {"start": "$start", "end": "$end"},
        "pipeline": [
            {
                "$match": {
                    "$expr": {
                        "$and": [
                            {"$gte": ["$order_date", "$$start"]},
                            {"$lt": ["$order_date", "$$end"]},
                        ]
                    }
                }
            },
            {"$project": {"_id": 0, "order_date": 1, "order_amount": 1}},
        ],
        "as": "orders",
    }
    # Another campaign's SENT message to the same customer after this one, early enough
    # to take some of this window's orders (a HELD_OUT log has none: its key is null).
    later_touches = {
        "from": CommunicationLog._get_collection().name,
        "localField": "messaged_customer_id",
        "foreignField": "customer_id",
        "let": {"touch": "$touch", "end": "$end"},
        "pipeline": [
            {"$match": {"status": SENT, "campaign_id": {"$ne": campaign.id}}},
            {"$set": {"touch": touch}},
            {
                "$match": {
                    "$expr": {
                        "$and": [
                            {"$lt": ["$touch", "$$end"]},
                            {
                                "$or": [
                                    {"$gt": ["$touch", "$$touch"]},
                                    {
                                        "$and": [
                                            {"$eq": ["$touch", "$$touch"]},
                                            {"$gt": ["$campaign_id", campaign.id]},
                                        ]
                                    },
                                ]
                            },
                        ]
                    }
                }
            },
            {"$project": {"_id": 0, "day": {"$dateTrunc": {"date": "$touch", "unit": "day"}}}},
        ],
        "as": "later",
    }
    taken_later = {
        "$anyElementTrue": [
            {"$map": {"input": "$later", "as": "l", "in": {"$lte": ["$$l.day", "$$o.order_date"]}}}
        ]
    }
    per_member = [
        {"$match": {"status": {"$in": [SENT, HELD_OUT]}}},
        {
            "$project": {
                "customer_id": 1,
                "variant": 1,
                "held_out": {"$eq": ["$status", HELD_OUT]},
                "messaged_customer_id": {
                    "$cond": [{"$eq": ["$status", SENT]}, "$customer_id", None]
                },
                "touch": {"$cond": [{"$eq": ["$status", SENT]}, touch, "$created_at"]},
            }
        },
        {"$set": {"start": {"$dateTrunc": {"date": "$touch", "unit": "day"}}}},
        {
            "$set": {
                "end": {
                    "$dateAdd": {
                        "startDate": "$start",
                        "unit": "day",
                        "amount": campaign.attribution_window_days,
                    }
                }
            }
        },
        {"$lookup": window_orders},
        {"$lookup": later_touches},
        {
            "$project": {
                "variant": 1,
                "held_out": 1,
                "window_revenue": {"$sum": _amounts("$orders")},
                "in_window": {"$size": "$orders"},
                "attributed": {
                    "$filter": {"input": "$orders", "as": "o", "cond": {"$not": [taken_later]}}
                },
            }
        },
        {
            "$group": {
                "_id": {"held_out": "$held_out", "variant": "$variant"},
                "members": {"$sum": 1},
                "window_conversions": {"$sum": {"$cond": [{"$gt": ["$in_window", 0]}, 1, 0]}},
                "window_revenue": {"$sum": "$window_revenue"},
                "conversions": {"$sum": {"$cond": [{"$gt": [{"$size": "$attributed"}, 0]}, 1, 0]}},
                "orders": {"$sum": {"$size": "$attributed"}},
                "revenue": {"$sum": {"$sum": _amounts("$attributed")}},
            }
        },
    ]
    delivery = [{"$group": {"_id": {"variant": "$variant", "status": "$status"}, "n": {"$sum": 1}}}]
    return [
        {"$match": {"campaign_id": campaign.id}},
        {"$facet": {"groups": per_member, "delivery": delivery}},
    ]


def _amounts(orders: str) -> dict[str, Any]:
    return {"$map": {"input": orders, "as": "order", "in": "$$order.order_amount"}}


FIGURES = ("members", "window_conversions", "conversions", "orders")
AMOUNTS = ("window_revenue", "revenue")


def _sum(rows: Any) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys(FIGURES, 0) | dict.fromkeys(AMOUNTS, Decimal(0))
    for row in rows:
        for name in FIGURES:
            total[name] += row[name]
        for name in AMOUNTS:
            total[name] += _money(row[name])
    return total


def _money(value: Any) -> Decimal:
    return value.to_decimal() if isinstance(value, Decimal128) else Decimal(value)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _messaged(row: dict[str, Any]) -> dict[str, Any]:
    members = row.get("members", 0)
    return {
        "members": members,
        "conversions": row.get("conversions", 0),
        "conversion_rate": _rate(row.get("conversions", 0), members),
        "orders": row.get("orders", 0),
        "revenue": _money(row.get("revenue", 0)).quantize(CENT),
        "window_conversions": row.get("window_conversions", 0),
        "window_conversion_rate": _rate(row.get("window_conversions", 0), members),
    }


def _holdout(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "members": row["members"],
        "window_conversions": row["window_conversions"],
        "window_conversion_rate": _rate(row["window_conversions"], row["members"]),
        "window_revenue": _money(row["window_revenue"]).quantize(CENT),
    }


def _lift(messaged: dict[str, Any], holdout: dict[str, Any]) -> dict[str, Any]:
    found = lift.lift(
        messaged.get("window_conversions", 0),
        messaged.get("members", 0),
        holdout["window_conversions"],
        holdout["members"],
    )
    return {
        "absolute": found.absolute,
        "absolute_ci_95": _interval(found.absolute_ci),
        "relative": found.relative,
        "relative_ci_95": _interval(found.relative_ci),
        "method": "Newcombe hybrid score (absolute), Katz log ratio (relative)",
    }


def _interval(bounds: tuple[float, float] | None) -> dict[str, float] | None:
    return None if bounds is None else {"low": bounds[0], "high": bounds[1]}
