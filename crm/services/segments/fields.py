"""The allow-list: the fields a rule may name, their types, and the operators each type takes.

Nothing outside these tables reaches a query: a rule's field is looked up here and its
stored path comes from here, so user text never becomes a key in a MongoDB filter.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from crm.documents import Customer


class Type(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATE = "date"
    BOOL = "bool"


@dataclass(frozen=True)
class Field:
    name: str
    path: str
    type: Type | None  # None: a custom attribute, typed by the rule's value
    money: bool = False  # compared as Decimal128, so 1000.10 >= 1000.1 holds exactly
    windowed: bool = False  # an order aggregate that takes an optional ``within_days``
    description: str = ""


EQUALITY = ("=", "!=")
ORDERING = (">", ">=", "<", "<=", "between")
TEXT = ("in", "not_in", "contains", "starts_with", "ends_with")
RELATIVE = ("older_than_days", "within_last_days")
PRESENCE = ("exists", "not_exists")

OPERATORS: dict[Type, tuple[str, ...]] = {
    Type.STRING: EQUALITY + TEXT + PRESENCE,
    Type.NUMBER: EQUALITY + ORDERING + PRESENCE,
    Type.DATE: EQUALITY + ORDERING + RELATIVE + PRESENCE,
    Type.BOOL: EQUALITY + PRESENCE,
}
WINDOWED_OPERATORS = EQUALITY + ORDERING
CASE_OPERATORS = EQUALITY + TEXT  # the ones that take ``ignore_case``

ATTRIBUTE_PREFIX = "attributes."
ATTRIBUTE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
# Attribute dates arrive as JSON strings; ISO-8601 ones sort as text in date order.
ISO_DATE = r"^\d{4}-\d{2}-\d{2}"

FIELDS: dict[str, Field] = {
    field.name: field
    for field in (
        Field("customer_id", "customer_id", Type.STRING),
        Field("name", "name", Type.STRING),
        Field("email", "email", Type.STRING),
        Field("phone", "phone", Type.STRING),
        Field("total_spends", "total_spends", Type.NUMBER, money=True),
        Field("visit_count", "visit_count", Type.NUMBER),
        Field("last_visit_date", "last_visit_date", Type.DATE),
        Field("created_at", "created_at", Type.DATE),
        Field("updated_at", "updated_at", Type.DATE),
        Field("orders.first_date", "first_order_date", Type.DATE, description="First order's day."),
        Field("orders.last_date", "last_order_date", Type.DATE, description="Last order's day."),
        Field(
            "orders.count",
            "order_count",
            Type.NUMBER,
            windowed=True,
            description="Orders placed, all time or within `within_days` days.",
        ),
        Field(
            "orders.total",
            "order_total",
            Type.NUMBER,
            money=True,
            windowed=True,
            description="Amount ordered, all time or within `within_days` days.",
        ),
    )
}


def resolve(name: Any) -> Field | None:
    """The field a rule names, or None when it is not on the allow-list."""
    if not isinstance(name, str):
        return None
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name.removeprefix(ATTRIBUTE_PREFIX)
        return Field(name, name, None) if ATTRIBUTE_KEY.fullmatch(key) else None
    return FIELDS.get(name)


def operators_for(field: Field) -> tuple[str, ...]:
    if field.windowed:
        return WINDOWED_OPERATORS
    if field.type is None:
        return tuple(dict.fromkeys(op for ops in OPERATORS.values() for op in ops))
    return OPERATORS[field.type]


def attribute_type(operator: str, value: Any) -> Type | None:
    """A custom attribute's type as the rule implies it: by operator, else by value.

    ``attributes.city = "Pune"`` compares text, ``attributes.age > 30`` numbers and
    ``attributes.signup > "2024-01-01"`` dates; None when nothing implies a type.
    """
    if operator in RELATIVE:
        return Type.DATE
    if operator in TEXT:
        return Type.STRING
    if operator == "between" and isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, bool):
        return Type.BOOL
    if isinstance(value, int | float):
        return Type.NUMBER
    if isinstance(value, str):
        return Type.STRING if operator in EQUALITY else Type.DATE
    return None


def type_of(field: Field, operator: str, value: Any) -> Type | None:
    return field.type if field.type is not None else attribute_type(operator, value)


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def parse_day(value: Any) -> datetime | None:
    """A ``YYYY-MM-DD`` day (from 1900) as midnight UTC, the way day fields are stored."""
    if not isinstance(value, str) or not DAY.fullmatch(value):
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day) if day.year >= 1900 else None


def describe() -> list[dict[str, Any]]:
    """The allow-list for a UI: each field, its type and operators (attributes by pattern)."""
    listed = [
        {
            "field": field.name,
            "type": str(field.type),
            "operators": list(operators_for(field)),
            "takes_within_days": field.windowed,
            "description": field.description,
        }
        for field in FIELDS.values()
    ]
    pattern = Field(f"{ATTRIBUTE_PREFIX}<key>", "", None)
    listed.append(
        {
            "field": pattern.name,
            "type": "any",
            "operators": list(operators_for(pattern)),
            "takes_within_days": False,
            "description": "A custom attribute; the value's type picks the comparison "
            "(dates as YYYY-MM-DD text). Keys: letters, digits and _.",
        }
    )
    return listed


def indexed_fields() -> list[str]:
    """The rule fields an index on ``customers`` leads with: the ones that narrow a rule
    cheaply."""
    leading = {spec["fields"][0][0] for spec in Customer._meta["index_specs"]}
    return [field.name for field in FIELDS.values() if field.path in leading]
