"""Rule-tree validation; every problem is reported at its path, e.g. ``rules[1].rules[0].value``."""

import math
from typing import Any

from crm.documents.customer import MAX_WINDOW_DAYS
from crm.services.errors import InvalidInput
from crm.services.segments import fields
from crm.services.segments.fields import Field, Type

MAX_DEPTH = 8
MAX_NODES = 200
MAX_TEXT = 256
MAX_ITEMS = 100
MAX_NUMBER = 1e15
MAX_DAYS = 36_500
LOGICS = ("AND", "OR", "NOT")
GROUP_KEYS = ("logic", "rules")
LEAF_KEYS = ("field", "operator", "value", "ignore_case", "within_days")


def validate(tree: Any) -> dict[str, Any]:
    """The tree with every group's ``logic`` spelled out; InvalidInput lists every problem."""
    checker = _Checker()
    clean = checker.group(tree, "", depth=1)
    if checker.errors or clean is None:
        raise InvalidInput("The audience rules are invalid.", checker.errors)
    return clean


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Checker:
    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.nodes = 1  # the root group

    def error(self, path: str, message: str) -> None:
        self.errors.setdefault(path or "rules", []).append(message)

    def node(self, node: Any, path: str, depth: int) -> dict[str, Any] | None:
        self.nodes += 1
        if self.nodes == MAX_NODES + 1:
            self.error("rules", f"A tree holds at most {MAX_NODES} rules and groups.")
        if self.nodes > MAX_NODES:
            return None
        if isinstance(node, dict) and "rules" in node:
            return self.group(node, path, depth + 1)
        if isinstance(node, dict) and "field" in node:
            return self.leaf(node, path)
        self.error(path, "Expected a rule {field, operator, value} or a group {logic, rules}.")
        return None

    def group(self, group: Any, path: str, depth: int) -> dict[str, Any] | None:
        if not isinstance(group, dict):
            self.error(path, "Expected a group {logic, rules}.")
            return None
        self.unknown_keys(group, GROUP_KEYS, path)
        logic = group.get("logic", "AND")
        if logic not in LOGICS:
            self.error(_at(path, "logic"), "Must be one of AND, OR, NOT.")
        rules, rules_path = group.get("rules"), _at(path, "rules")
        if not isinstance(rules, list) or not rules:
            self.error(rules_path, "Must be a non-empty list of rules and groups.")
            return None
        if depth > MAX_DEPTH:
            self.error(rules_path, f"Groups nest at most {MAX_DEPTH} deep.")
            return None
        children = [self.node(child, f"{rules_path}[{i}]", depth) for i, child in enumerate(rules)]
        return {"logic": logic, "rules": children}

    def leaf(self, rule: dict[str, Any], path: str) -> dict[str, Any]:
        self.unknown_keys(rule, LEAF_KEYS, path)
        clean = {key: rule[key] for key in LEAF_KEYS if key in rule}
        field = fields.resolve(rule["field"])
        if field is None:
            self.error(_at(path, "field"), "Unknown field; GET /api/audiences/fields lists them.")
            return clean
        operator, value = rule.get("operator"), rule.get("value")
        allowed = fields.operators_for(field)
        if not isinstance(operator, str) or operator not in allowed:
            self.error(_at(path, "operator"), f"Must be one of: {', '.join(allowed)}.")
            return clean
        kind = fields.type_of(field, operator, value)
        if kind is not None and operator not in fields.OPERATORS[kind]:
            self.error(_at(path, "operator"), f"{operator!r} does not apply to {kind} values.")
            return clean
        problem = _value_problem(kind, operator, value)
        if problem:
            self.error(_at(path, "value"), problem)
        self.options(rule, field, kind, operator, path)
        return clean

    def options(
        self, rule: dict, field: Field, kind: Type | None, operator: str, path: str
    ) -> None:
        if "ignore_case" in rule:
            if not isinstance(rule["ignore_case"], bool):
                self.error(_at(path, "ignore_case"), "Must be true or false.")
            elif kind is not Type.STRING or operator not in fields.CASE_OPERATORS:
                self.error(_at(path, "ignore_case"), "Only text comparisons take ignore_case.")
        if "within_days" in rule:
            if not field.windowed:
                self.error(_at(path, "within_days"), "Only orders.count and orders.total take it.")
            elif not _whole(rule["within_days"], 1, MAX_WINDOW_DAYS):
                message = f"Must be a whole number of days from 1 to {MAX_WINDOW_DAYS}."
                self.error(_at(path, "within_days"), message)

    def unknown_keys(self, node: dict, allowed: tuple[str, ...], path: str) -> None:
        for key in sorted(set(node) - set(allowed)):
            self.error(_at(path, key), "Unknown field.")


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _value_problem(kind: Type | None, operator: str, value: Any) -> str | None:
    if operator in fields.PRESENCE:
        return None if value is None else "Takes no value."
    if value is None or (value == "" and kind is not Type.STRING):
        return "Must not be empty."
    if operator in fields.RELATIVE:
        return None if _whole(value, 0, MAX_DAYS) else f"Must be whole days from 0 to {MAX_DAYS}."
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not 1 <= len(value) <= MAX_ITEMS:
            return f"Must be a list of 1 to {MAX_ITEMS} strings."
        return next(filter(None, (_scalar_problem(Type.STRING, item) for item in value)), None)
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            return "Must be a list of two values, [low, high]."
        problem = _scalar_problem(kind, value[0]) or _scalar_problem(kind, value[1])
        if problem:
            return problem
        bounds: list[Any] = [fields.parse_day(v) for v in value] if kind is Type.DATE else value
        low, high = bounds
        return "The low end must not exceed the high end." if low > high else None
    if operator in fields.TEXT and value == "":
        return "Must not be empty."
    return _scalar_problem(kind, value)


def _scalar_problem(kind: Type | None, value: Any) -> str | None:
    if kind is Type.STRING:
        ok = isinstance(value, str) and len(value) <= MAX_TEXT
        return None if ok else f"Must be a string of at most {MAX_TEXT} characters."
    if kind is Type.NUMBER:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = number and math.isfinite(value) and abs(value) <= MAX_NUMBER
        return None if ok else "Must be a number."
    if kind is Type.DATE:
        return None if fields.parse_day(value) else "Must be a date, YYYY-MM-DD."
    if kind is Type.BOOL:
        return None if isinstance(value, bool) else "Must be true or false."
    return "Must be a string, a number or true/false."
