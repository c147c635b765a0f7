"""An audience's rule tree in words: ``total_spends > 10000 AND (visit_count < 3 OR ...)``."""

import json
from typing import Any

WORDS = {
    "not_in": "not in",
    "starts_with": "starts with",
    "ends_with": "ends with",
    "between": "between",
}


def summarize(tree: dict[str, Any]) -> str:
    return _group(tree, nested=False)


def _group(group: dict[str, Any], nested: bool) -> str:
    parts, logic = [_node(child) for child in group["rules"]], group.get("logic", "AND")
    if logic == "NOT":
        if len(parts) == 1:
            return f"NOT {parts[0]}"
        return f"NOT ({' OR '.join(parts)})"
    text = f" {logic} ".join(parts)
    return f"({text})" if nested and len(parts) > 1 else text


def _node(node: dict[str, Any]) -> str:
    return _group(node, nested=True) if "rules" in node else _leaf(node)


def _leaf(rule: dict[str, Any]) -> str:
    field, operator = rule["field"], rule["operator"]
    value: Any = rule.get("value")
    if "within_days" in rule:
        field = f"{field} in the last {rule['within_days']} days"
    if operator == "exists":
        return f"{field} exists"
    if operator == "not_exists":
        return f"{field} does not exist"
    if operator == "older_than_days":
        return f"{field} older than {value} days"
    if operator == "within_last_days":
        return f"{field} within the last {value} days"
    if operator == "between":
        text = f"{_value(value[0])} and {_value(value[1])}"
    elif operator in ("in", "not_in"):
        text = f"({', '.join(_value(item) for item in value)})"
    else:
        text = _value(value)
    case = " (ignoring case)" if rule.get("ignore_case") else ""
    return f"{field} {WORDS.get(operator, operator)} {text}{case}"


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
