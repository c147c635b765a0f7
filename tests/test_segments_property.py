"""Random rule trees: the database's members equal a plain-Python reading of the same tree.

The Python side follows the documented rule semantics (missing values match only the
negations, day values cover the whole day, attribute types come from the rule's value),
independently of the compiler, over customers with gaps and mixed attribute types.
"""

import operator as op
import random
import re
from datetime import datetime, timedelta
from decimal import Decimal

from bson import Decimal128
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm.documents import Customer
from crm.services import segments
from tests.helpers.orders import insert_customers

NOW = datetime(2025, 1, 1, 12)
TODAY = datetime(2025, 1, 1)
DAYS = ["2023-06-12", "2024-06-30", "2024-10-03", "2024-12-02", "2024-12-31", "2025-01-01"]
NUMBERS = [0, 1, 2, 4, 30, 30.5, 999.99, 1000, 1000.1, 5000, 12000.5]
TEXTS = ["asha", "Asha", "a.", ".*", "$where", "@shop.in", "Pune", "pune", "c1", "+91", "(a"]
WINDOWS = [None, 30, 180, 400]
DOMAINS = ["shop.in", "m.com"]
STORED = ("orders.first_date", "orders.last_date")  # read off the orders themselves


def make_customers(count=40, seed=3):
    pick = random.Random(seed)
    names = ["Asha", "asha k", "Bilal", "Chen.Li", "D*ra (a", "Eve $where", "Pune Pal"]
    customers = []
    for i in range(count):
        customer = {
            "customer_id": f"c{i}",
            "name": pick.choice(names),
            "email": f"{pick.choice(['asha', 'BILAL', 'x.y'])}{i}@{pick.choice(DOMAINS)}",
            "total_spends": Decimal128(str(pick.choice(NUMBERS))),
        }
        if pick.random() < 0.8:
            customer["visit_count"] = pick.randrange(6)
        if pick.random() < 0.7:
            customer["last_visit_date"] = pick.choice([None, *map(datetime.fromisoformat, DAYS)])
        if pick.random() < 0.3:
            customer["phone"] = "+91 98765"
        if pick.random() < 0.8:
            options = {
                "city": ["Pune", "pune", "Delhi", "Pu.ne"],
                "vip": [True, False, 1],
                "age": [30, 30.5, 31, "31"],
                "signup": DAYS,
            }
            chosen = pick.sample(sorted(options), pick.randrange(5))
            customer["attributes"] = {key: pick.choice(options[key]) for key in chosen}
        days = [TODAY - timedelta(days=pick.randrange(500)) for _ in range(pick.randrange(4))]
        if days:
            history = [{"date": day, "amount": Decimal128("250.50")} for day in days]
            customer["order_history"] = history
        customers.append(customer)
    return customers


def leaf(field, operator, value=None, **options):
    rule = {"field": field, "operator": operator, **options}
    return rule if value is None else {**rule, "value": value}


def compared(fields, values, operators=("=", "!=", ">", ">=", "<", "<=")):
    single = st.builds(leaf, st.sampled_from(fields), st.sampled_from(operators), values)
    pair = st.lists(values, min_size=2, max_size=2).map(sorted)
    return single | st.builds(leaf, st.sampled_from(fields), st.just("between"), pair)


def texts(fields):
    operators = st.sampled_from(["=", "!=", "contains", "starts_with", "ends_with"])
    lists = st.lists(st.sampled_from(TEXTS), min_size=1, max_size=3)
    return st.builds(
        leaf, st.sampled_from(fields), operators, st.sampled_from(TEXTS), ignore_case=st.booleans()
    ) | st.builds(
        leaf,
        st.sampled_from(fields),
        st.sampled_from(["in", "not_in"]),
        lists,
        ignore_case=st.booleans(),
    )


DATE_FIELDS = ["last_visit_date", "orders.first_date", "orders.last_date", "attributes.signup"]
ALL_FIELDS = [
    "name",
    "phone",
    "visit_count",
    "last_visit_date",
    "attributes.city",
    "attributes.vip",
]
LEAVES = st.one_of(
    compared(["total_spends", "visit_count", "attributes.age"], st.sampled_from(NUMBERS)),
    compared(DATE_FIELDS, st.sampled_from(DAYS), (">", ">=", "<", "<=")),
    compared(DATE_FIELDS[:3], st.sampled_from(DAYS), ("=", "!=")),
    st.builds(
        leaf,
        st.sampled_from(DATE_FIELDS),
        st.sampled_from(["older_than_days", "within_last_days"]),
        st.sampled_from([0, 1, 30, 90, 365]),
    ),
    texts(["name", "email", "customer_id", "phone", "attributes.city"]),
    st.builds(leaf, st.just("attributes.vip"), st.sampled_from(["=", "!="]), st.booleans()),
    st.builds(leaf, st.sampled_from(ALL_FIELDS), st.sampled_from(["exists", "not_exists"])),
    compared(["orders.count", "orders.total"], st.sampled_from(NUMBERS)).flatmap(
        lambda rule: st.sampled_from(WINDOWS).map(
            lambda days: rule if days is None else {**rule, "within_days": days}
        )
    ),
)


def groups(children):
    logic = st.sampled_from(["AND", "OR", "NOT"])
    return st.builds(
        lambda *group: dict(zip(("logic", "rules"), group, strict=True)),
        logic,
        st.lists(children, min_size=1, max_size=3),
    )


TREES = groups(st.recursive(LEAVES, groups, max_leaves=6))


def matches(node, customer):
    if "rules" in node:
        results = [matches(child, customer) for child in node["rules"]]
        return {"AND": all(results), "OR": any(results), "NOT": not any(results)}[node["logic"]]
    field, operator, value = node["field"], node["operator"], node.get("value")
    if field in ("orders.count", "orders.total"):
        days = node.get("within_days")
        orders = [
            order
            for order in customer.get("order_history", [])
            if days is None or order["date"] >= NOW - timedelta(days=days)
        ]
        if field == "orders.count":
            return compare(len(orders), operator, value)
        total = sum((order["amount"].to_decimal() for order in orders), Decimal(0))
        return compare(total, operator, decimal(value))
    stored = lookup(customer, field)
    if operator in ("exists", "not_exists"):
        return (stored is None) == (operator == "not_exists")
    if operator in ("!=", "not_in"):
        return not matches({**node, "operator": {"!=": "=", "not_in": "in"}[operator]}, customer)
    if operator in ("older_than_days", "within_last_days") or field in DATE_FIELDS:
        return dates(as_day(stored, field), operator, value)
    if (isinstance(value, list) and operator == "in") or isinstance(value, str):
        return text(stored, operator, value, node.get("ignore_case", False))
    if isinstance(value, bool):
        return isinstance(stored, bool) and stored == value
    if isinstance(stored, Decimal128):
        return compare(stored.to_decimal(), operator, decimal(value))
    number = isinstance(stored, int | float) and not isinstance(stored, bool)
    return number and compare(stored, operator, value)


def decimal(value):
    return [decimal(item) for item in value] if isinstance(value, list) else Decimal(str(value))


def lookup(customer, field):
    if field in STORED:
        days = [order["date"] for order in customer.get("order_history", [])]
        return (min if field == "orders.first_date" else max)(days) if days else None
    if field.startswith("attributes."):
        return (customer.get("attributes") or {}).get(field.split(".", 1)[1])
    return customer.get(field)


def as_day(stored, field):
    if field.startswith("attributes."):
        iso = isinstance(stored, str) and re.match(r"\d{4}-\d{2}-\d{2}", stored)
        return datetime.fromisoformat(stored[:10]) if iso else None
    return stored if isinstance(stored, datetime) else None


COMPARE = {"=": op.eq, "!=": op.ne, ">": op.gt, ">=": op.ge, "<": op.lt, "<=": op.le}


def compare(measure, operator, value):
    if operator == "between":
        return value[0] <= measure <= value[1]
    return COMPARE[operator](measure, value)


def dates(stored, operator, value):
    if stored is None:
        return False
    if operator in ("older_than_days", "within_last_days"):
        return (stored < NOW - timedelta(days=value)) == (operator == "older_than_days")
    low, high = value if operator == "between" else [value, value]
    start, end = datetime.fromisoformat(low), datetime.fromisoformat(high) + timedelta(days=1)
    # Each day operator is a half-open range [from, until) of times.
    since, until = {
        "=": (start, end),
        "between": (start, end),
        ">": (end, None),
        ">=": (start, None),
        "<": (None, start),
        "<=": (None, end),
    }[operator]
    return (since is None or stored >= since) and (until is None or stored < until)


def text(stored, operator, value, ignore_case):
    if not isinstance(stored, str):
        return False
    fold = str.lower if ignore_case else str
    if operator == "in":
        return fold(stored) in [fold(item) for item in value]
    stored, value = fold(stored), fold(value)
    if operator == "=":
        return stored == value
    if operator == "contains":
        return value in stored
    return stored.startswith(value) if operator == "starts_with" else stored.endswith(value)


def test_database_agrees_with_python_on_random_trees(app):
    customers = make_customers()
    collection = Customer._get_collection()
    insert_customers(collection, customers, NOW)

    @hypothesis_settings(max_examples=80, deadline=None, database=None)
    @given(TREES)
    def check(tree):
        found = collection.find(segments.to_filter(tree, NOW), {"customer_id": 1})
        expected = {c["customer_id"] for c in customers if matches(tree, c)}
        assert {c["customer_id"] for c in found} == expected

    check()
