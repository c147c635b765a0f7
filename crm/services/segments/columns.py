"""What a preview shows beside each sampled customer: the values of the fields its rules use."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from crm.services.segments import compiler, fields

ALWAYS = ("customer_id", "name", "email")


def columns(tree: dict[str, Any], now: datetime) -> dict[str, Any]:
    """``{label: aggregation expression}`` for each field the tree names, in order of use."""
    found: dict[str, Any] = {}
    for rule in _leaves(tree):
        field = fields.resolve(rule["field"])
        if field is None or field.name in ALWAYS:
            continue
        days = rule.get("within_days")
        if field.windowed:
            label = f"{field.name} (last {days} days)" if days else field.name
            found.setdefault(label, compiler.measure(field, days, now))
        else:
            found.setdefault(field.name, f"${field.path}")
    return found


def _leaves(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "rules" not in node:
        yield node
        return
    for child in node["rules"]:
        yield from _leaves(child)
