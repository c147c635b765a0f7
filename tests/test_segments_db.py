"""Rule trees against the real MongoDB-protocol server: a table of trees and expected members."""

from datetime import datetime

import pytest
from bson import Decimal128

from crm.documents import Customer
from crm.services import segments
from tests.helpers.orders import insert_customers

NOW = datetime(2025, 1, 1, 12)


def day(text):
    return datetime.fromisoformat(text)


def orders(*entries):
    history = [{"date": day(when), "amount": Decimal128(amount)} for when, amount in entries]
    if not history:
        return {}
    return {"order_history": history}


CUSTOMERS = [
    {
        "customer_id": "c1",
        "name": "Asha",
        "email": "asha@shop.in",
        "total_spends": Decimal128("15000"),
        "visit_count": 2,
        "last_visit_date": day("2024-12-20"),
        "attributes": {"city": "Pune", "vip": True, "age": 31, "signup": "2023-05-01"},
        **orders(("2024-11-01", "5000"), ("2024-08-01", "3000"), ("2023-01-01", "7000")),
    },
    {
        "customer_id": "c2",
        "name": "Bilal",
        "email": "bilal@mail.com",
        "total_spends": Decimal128("12000"),
        "visit_count": 5,
        "last_visit_date": day("2024-06-01"),
        "attributes": {"city": "pune", "age": "31"},
        **orders(("2024-12-15", "12000")),
    },
    {
        "customer_id": "c3",
        "name": "Chen",
        "email": "CHEN@shop.in",
        "phone": "+91 98",
        "total_spends": Decimal128("800"),
        "visit_count": 1,
        "last_visit_date": None,
        "attributes": {"city": "Delhi", "vip": False},
    },
    {
        "customer_id": "c4",
        "name": "Dara (a.b*c)",
        "email": "dara@mail.com",
        "total_spends": Decimal128("10000.10"),
        "visit_count": 9,
        "last_visit_date": day("2024-12-31"),
        "attributes": {},
        **orders(("2024-07-10", "10000.10")),
    },
    {
        "customer_id": "c5",
        "name": "Eve $where",
        "email": "eve@x.io",
        "total_spends": Decimal128("0"),
        "visit_count": 0,
    },
]


def leaf(field, operator, value=None, **options):
    rule = {"field": field, "operator": operator, **options}
    return rule if value is None else {**rule, "value": value}


def group(logic, *rules):
    return {"logic": logic, "rules": list(rules)}


TABLE = [
    (group("AND", leaf("total_spends", ">", 10000), leaf("visit_count", ">=", 4)), "c2 c4"),
    (
        group(
            "AND",
            leaf("total_spends", ">", 10000),
            group(
                "OR",
                leaf("visit_count", "<", 3),
                leaf("last_visit_date", "older_than_days", 90),
            ),
            leaf("orders.count", ">=", 2, within_days=180),
        ),
        "c1",
    ),
    (group("AND", leaf("total_spends", ">=", 10000.1)), "c1 c2 c4"),
    (group("AND", leaf("attributes.city", "=", "pune", ignore_case=True)), "c1 c2"),
    (group("AND", leaf("attributes.city", "=", "pune")), "c2"),
    (group("AND", leaf("attributes.city", "not_in", ["Pune"])), "c2 c3 c4 c5"),
    (group("AND", leaf("attributes.city", "in", ["PUNE", "delhi"], ignore_case=True)), "c1 c2 c3"),
    (group("AND", leaf("attributes.city", "not_in", ["PUNE"], ignore_case=True)), "c3 c4 c5"),
    (group("AND", leaf("name", "=", "eve $WHERE", ignore_case=True)), "c5"),
    (group("AND", leaf("name", "!=", "eve $WHERE", ignore_case=True)), "c1 c2 c3 c4"),
    (group("AND", leaf("attributes.age", ">", 30)), "c1"),
    (group("AND", leaf("attributes.vip", "=", False)), "c3"),
    (group("AND", leaf("attributes.vip", "!=", True)), "c2 c3 c4 c5"),
    (group("AND", leaf("attributes.signup", "<", "2024-01-01")), "c1"),
    (group("AND", leaf("attributes.signup", "older_than_days", 365)), "c1"),
    (group("AND", leaf("name", "contains", ".")), "c4"),
    (group("AND", leaf("name", "contains", "A.B*", ignore_case=True)), "c4"),
    (group("AND", leaf("name", "ends_with", "$where")), "c5"),
    (group("AND", leaf("email", "starts_with", "chen")), ""),
    (group("AND", leaf("email", "starts_with", "chen", ignore_case=True)), "c3"),
    (group("AND", leaf("email", "ends_with", "@shop.in")), "c1 c3"),
    (group("OR", leaf("last_visit_date", "not_exists"), leaf("phone", "exists")), "c3 c5"),
    (group("NOT", leaf("visit_count", ">", 1)), "c3 c5"),
    (group("AND", leaf("last_visit_date", "within_last_days", 30)), "c1 c4"),
    (group("AND", leaf("last_visit_date", "=", "2024-12-31")), "c4"),
    (group("AND", leaf("last_visit_date", "!=", "2024-12-31")), "c1 c2 c3 c5"),
    (group("AND", leaf("last_visit_date", "between", ["2024-06-01", "2024-12-20"])), "c1 c2"),
    (group("AND", leaf("orders.total", "between", [5000, 13000], within_days=180)), "c1 c2 c4"),
    (group("AND", leaf("orders.count", "=", 0)), "c3 c5"),
    (group("AND", leaf("orders.count", "=", 0, within_days=30)), "c1 c3 c4 c5"),
    (group("AND", leaf("orders.count", ">", 2)), "c1"),
    (group("AND", leaf("orders.first_date", "<", "2024-01-01")), "c1"),
    (group("AND", leaf("customer_id", "in", ["c1", "c3", "zz"])), "c1 c3"),
]


@pytest.fixture
def customers(app):
    collection = Customer._get_collection()
    insert_customers(collection, CUSTOMERS, NOW)
    return collection


def test_each_tree_selects_its_expected_members(customers):
    for tree, expected in TABLE:
        found = customers.find(segments.to_filter(tree, NOW), {"customer_id": 1})
        assert sorted(c["customer_id"] for c in found) == expected.split(), tree


def winning_stages(plan):
    stages = [plan["stage"]]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            stages += winning_stages(child)
    return stages


@pytest.mark.parametrize(
    "rule",
    [
        leaf("total_spends", ">", 10000),
        leaf("last_visit_date", "older_than_days", 90),
        leaf("orders.count", ">=", 1, within_days=30),
    ],
)
def test_a_rule_on_an_indexed_field_is_an_index_scan(customers, rule):
    plan = customers.find(segments.to_filter(group("AND", rule), NOW)).explain()
    assert "IXSCAN" in winning_stages(plan["queryPlanner"]["winningPlan"])
