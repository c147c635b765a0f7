"""A validated rule tree as one MongoDB filter on the ``customers`` collection.

Every key in the output comes from the tables in ``fields`` or from this module; user
values only ever appear as comparison operands, and text in a pattern only through
``re.escape``.
"""

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from bson import Decimal128

from crm.services import order_facts
from crm.services.segments import fields
from crm.services.segments.fields import Field, Type

COMPARISONS = {"=": "$eq", "!=": "$ne", ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
END = r"(?![\s\S])"  # the very end of the text; ``$`` would also match before a final newline
EXACT = {"=": "$eq", "!=": "$ne", "in": "$in", "not_in": "$nin"}
PATTERNS = {
    "=": "^{}" + END,
    "!=": "^{}" + END,
    "in": "^{}" + END,
    "not_in": "^{}" + END,
    "contains": "{}",
    "starts_with": "^{}",
    "ends_with": "{}" + END,
}
ONE_DAY = timedelta(days=1)


def compile_tree(tree: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _group(tree, now)


def _node(node: dict[str, Any], now: datetime) -> dict[str, Any]:
    return _group(node, now) if "rules" in node else _leaf(node, now)


def _group(group: dict[str, Any], now: datetime) -> dict[str, Any]:
    parts = [_node(child, now) for child in group["rules"]]
    if group["logic"] == "NOT":
        return {"$nor": parts}
    if len(parts) == 1:
        return parts[0]
    if group["logic"] == "OR":
        return {"$or": parts}
    merged: dict[str, Any] = {}
    for part in parts:
        if merged.keys() & part.keys():
            return {"$and": parts}
        merged.update(part)
    return merged  # {a: .., b: ..}: means the same as $and, and plans simply on every server


def _leaf(rule: dict[str, Any], now: datetime) -> dict[str, Any]:
    field = fields.resolve(rule["field"])
    assert field is not None, "to_filter takes validated trees only"
    operator, value = rule["operator"], rule.get("value")
    if field.windowed:
        return _window(field, operator, value, rule.get("within_days"), now)
    if operator == "exists":
        return {field.path: {"$ne": None}}
    if operator == "not_exists":
        return {field.path: None}
    kind = fields.type_of(field, operator, value)
    if kind is Type.STRING:
        return {field.path: _text(operator, value, rule.get("ignore_case", False))}
    if kind is Type.DATE:
        condition = _dates(operator, value, now)
        return {field.path: condition if field.type else _as_iso_text(condition)}
    return {field.path: _compare(operator, _number(value, field.money))}


def _compare(operator: str, value: Any) -> Any:
    if operator == "between":
        return {"$gte": value[0], "$lte": value[1]}
    return value if operator == "=" else {COMPARISONS[operator]: value}


def _number(value: Any, money: bool) -> Any:
    if not money:
        return value
    if isinstance(value, list):
        return [_number(item, money) for item in value]
    return Decimal128(Decimal(str(value)))


def _text(operator: str, value: Any, ignore_case: bool) -> Any:
    if not ignore_case and operator in EXACT:
        return value if operator == "=" else {EXACT[operator]: value}
    if operator in ("in", "not_in"):
        escaped = "(?:" + "|".join(re.escape(item) for item in value) + ")"
    else:
        escaped = re.escape(value)
    # The $regex operator form, not a BSON regex value: SecantusDB 0.7 looks a regex
    # value up in an index as if it were an equality, and finds nothing.
    regex = {"$regex": PATTERNS[operator].format(escaped), "$options": "i" if ignore_case else ""}
    return {"$not": regex} if operator in ("!=", "not_in") else regex


def _dates(operator: str, value: Any, now: datetime) -> dict[str, Any]:
    """Day values cover the whole day: ``= 2024-01-05`` is any time that day."""
    if operator == "older_than_days":
        return {"$lt": now - timedelta(days=value)}
    if operator == "within_last_days":
        return {"$gte": now - timedelta(days=value)}
    if operator == "between":
        return {"$gte": _day(value[0]), "$lt": _day(value[1]) + ONE_DAY}
    day = _day(value)
    ranges: dict[str, dict[str, Any]] = {
        "=": {"$gte": day, "$lt": day + ONE_DAY},
        "!=": {"$not": {"$gte": day, "$lt": day + ONE_DAY}},
        ">": {"$gte": day + ONE_DAY},
        ">=": {"$gte": day},
        "<": {"$lt": day},
        "<=": {"$lt": day + ONE_DAY},
    }
    return ranges[operator]


def _day(text: str) -> datetime:
    day = fields.parse_day(text)
    if day is None:
        raise ValueError(f"not a day: {text!r}")
    return day


def _as_iso_text(condition: dict[str, datetime]) -> dict[str, Any]:
    """A date condition on an attribute, which holds its date as ISO-8601 text."""
    text = {
        op: when.date().isoformat() if when.time() == time.min else when.isoformat()
        for op, when in condition.items()
    }
    return {"$regex": fields.ISO_DATE, **text}


def measure(field: Field, days: int | None, now: datetime) -> dict[str, Any]:
    """The aggregation expression for orders.count / orders.total, maybe within a window."""
    if days:
        return order_facts.in_window(
            now - timedelta(days=days), "amount" if field.money else "count"
        )
    return {"$ifNull": [f"${field.path}", Decimal128("0") if field.money else 0]}


def _window(field: Field, operator: str, value: Any, days: int | None, now: datetime) -> dict:
    """An order aggregate compared, as an ``$expr`` over the customer's order facts.

    When no order means "no match", the last order's day (an indexed field) narrows the
    scan first, and "at least one order in the window" needs nothing more.
    """
    aggregate, bound = measure(field, days, now), _number(value, field.money)
    if operator == "between":
        expr: Any = {"$and": [{"$gte": [aggregate, bound[0]]}, {"$lte": [aggregate, bound[1]]}]}
    else:
        expr = {COMPARISONS[operator]: [aggregate, bound]}
    if _holds(operator, value, 0):
        return {"$expr": expr}
    has_order = {"last_order_date": {"$gte": now - timedelta(days=days)} if days else {"$ne": None}}
    smallest = Decimal("0.01") if field.money else 1
    if operator in (">", ">=") and _holds(operator, value, smallest):
        return has_order
    return {**has_order, "$expr": expr}


def _holds(operator: str, value: Any, measure: Any) -> bool:
    """Whether a customer whose aggregate is ``measure`` satisfies the rule."""
    if operator == "between":
        return value[0] <= measure <= value[1]
    return {
        "=": measure == value,
        "!=": measure != value,
        ">": measure > value,
        ">=": measure >= value,
        "<": measure < value,
        "<=": measure <= value,
    }[operator]
