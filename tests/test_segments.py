"""Rule trees without a database: validation by path, the allow-list, filters and summaries."""

from datetime import datetime

import pytest
from bson import Decimal128

from crm.services import segments
from crm.services.errors import InvalidInput

NOW = datetime(2025, 1, 1, 12)
SEED = {
    "rules": [
        {"field": "total_spends", "operator": ">", "value": 1000},
        {"field": "visit_count", "operator": ">=", "value": 4},
    ],
    "logic": "AND",
}


def tree(*rules, logic="AND"):
    return {"logic": logic, "rules": list(rules)}


def rule(field, operator, value=None, **options):
    leaf = {"field": field, "operator": operator, **options}
    return leaf if value is None else {**leaf, "value": value}


def errors_of(rules):
    with pytest.raises(InvalidInput) as raised:
        segments.validate(rules)
    return raised.value.errors


def test_seed_tree_is_one_filter_with_money_as_decimal():
    assert segments.to_filter(SEED, NOW) == {
        "total_spends": {"$gt": Decimal128("1000")},
        "visit_count": {"$gte": 4},
    }


def test_single_rule_stays_a_single_field_filter_so_an_index_can_serve_it():
    assert segments.to_filter(tree(rule("visit_count", "=", 3)), NOW) == {"visit_count": 3}


def test_same_field_twice_is_an_explicit_and():
    rules = tree(rule("visit_count", ">", 1), rule("visit_count", "<", 5))
    assert segments.to_filter(rules, NOW) == {
        "$and": [{"visit_count": {"$gt": 1}}, {"visit_count": {"$lt": 5}}]
    }


def test_errors_are_keyed_by_the_rule_path():
    rules = tree(
        rule("visit_count", ">", 1),
        tree(rule("name", "contains", 5), rule("colour", "=", "red"), logic="OR"),
    )
    assert errors_of(rules) == {
        "rules[1].rules[0].value": ["Must be a string of at most 256 characters."],
        "rules[1].rules[1].field": ["Unknown field; GET /api/audiences/fields lists them."],
    }


@pytest.mark.parametrize(
    ("leaf", "path"),
    [
        (rule("$where", "=", "1"), "field"),
        (rule("total_spends.$gt", "=", 1), "field"),
        (rule("attributes.$where", "=", 1), "field"),
        (rule("attributes.a.b", "=", 1), "field"),
        (rule("attributes.", "=", 1), "field"),
        (rule("order_days", "=", 1), "field"),
        (rule({"$ne": None}, "=", 1), "field"),
        (rule("visit_count", "$ne", 1), "operator"),
        (rule("visit_count", "=", {"$ne": None}), "value"),
        (rule("visit_count", "=", [1]), "value"),
        (rule("visit_count", "=", True), "value"),
        (rule("visit_count", "=", "3"), "value"),
        (rule("name", "=", {"$regex": ".*"}), "value"),
        (rule("name", "in", [{"$ne": 1}]), "value"),
        (rule("name", "in", []), "value"),
        (rule("name", "contains", ""), "value"),
        (rule("name", ">", "a"), "operator"),
        (rule("total_spends", "contains", "1"), "operator"),
        (rule("last_visit_date", ">", 5), "value"),
        (rule("last_visit_date", "=", "12/06/2023"), "value"),
        (rule("last_visit_date", "=", "2023-02-30"), "value"),
        (rule("last_visit_date", "older_than_days", -1), "value"),
        (rule("last_visit_date", "older_than_days", 1.5), "value"),
        (rule("visit_count", "between", [5, 1]), "value"),
        (rule("visit_count", "between", [1]), "value"),
        (rule("phone", "exists", True), "value"),
        (rule("attributes.vip", ">", True), "operator"),
        (rule("attributes.city", "=", {"$gt": ""}), "value"),
        (rule("attributes.city", ">", "Pune"), "value"),
        (rule("visit_count", "=", 1, ignore_case=True), "ignore_case"),
        (rule("name", "=", "a", ignore_case="yes"), "ignore_case"),
        (rule("visit_count", "=", 1, within_days=30), "within_days"),
        (rule("orders.count", ">", 1, within_days=0), "within_days"),
        (rule("orders.count", "exists"), "operator"),
        (rule("name", "=", "a", **{"$where": "1"}), "$where"),
    ],
)
def test_unsafe_or_mistyped_rules_are_rejected_at_their_path(leaf, path):
    assert f"rules[0].{path}" in errors_of(tree(leaf))


def test_groups_must_be_well_formed():
    errors = errors_of({"logic": "XOR", "rules": [{"logic": "AND", "rules": []}, 7], "x": 1})
    assert set(errors) == {"logic", "rules[0].rules", "rules[1]", "x"}
    assert "rules" in errors_of({"logic": "AND", "rules": []})


def test_depth_and_size_are_capped():
    deep = rule("visit_count", ">", 1)
    for _ in range(segments.MAX_DEPTH):
        deep = tree(deep)
    segments.validate(deep)
    assert "Groups nest at most 8 deep." in str(errors_of(tree(deep)))
    segments.validate(tree(*[rule("visit_count", ">", i) for i in range(segments.MAX_NODES - 1)]))
    wide = tree(*[rule("visit_count", ">", i) for i in range(segments.MAX_NODES)])
    assert errors_of(wide) == {"rules": ["A tree holds at most 200 rules and groups."]}


def test_text_is_escaped_never_a_raw_regex():
    rules = tree(
        rule("name", "contains", ".*"),
        rule("email", "starts_with", "a+b(", ignore_case=True),
        rule("customer_id", "=", "$where"),
        logic="OR",
    )
    assert segments.to_filter(rules, NOW) == {
        "$or": [
            {"name": {"$regex": r"\.\*", "$options": ""}},
            {"email": {"$regex": r"^a\+b\(", "$options": "i"}},
            {"customer_id": "$where"},
        ]
    }


def test_not_group_is_nor_and_dates_cover_whole_days():
    rules = tree(rule("last_visit_date", "=", "2024-03-01"), logic="NOT")
    assert segments.to_filter(rules, NOW) == {
        "$nor": [{"last_visit_date": {"$gte": datetime(2024, 3, 1), "$lt": datetime(2024, 3, 2)}}]
    }


def test_relative_dates_are_measured_from_now():
    rules = tree(rule("last_visit_date", "older_than_days", 90))
    assert segments.to_filter(rules, NOW) == {"last_visit_date": {"$lt": datetime(2024, 10, 3, 12)}}


def test_at_least_one_order_in_a_window_is_an_indexed_range():
    rules = tree(rule("orders.count", ">=", 1, within_days=30))
    assert segments.to_filter(rules, NOW) == {
        "last_order_date": {"$gte": datetime(2024, 12, 2, 12)}
    }


def test_stored_tree_with_unknown_field_never_matches_everyone():
    with pytest.raises(InvalidInput):
        segments.to_filter(tree(rule("nope", "=", 1)), NOW)


def test_summary_reads_like_the_issue():
    rules = tree(
        rule("total_spends", ">", 10000),
        tree(
            rule("visit_count", "<", 3),
            rule("last_visit_date", "older_than_days", 90),
            logic="OR",
        ),
        rule("orders.count", ">=", 2, within_days=180),
        tree(
            rule("attributes.city", "in", ["Pune", "Delhi"]), rule("phone", "exists"), logic="NOT"
        ),
        rule("name", "starts_with", 'A"', ignore_case=True),
    )
    assert segments.summarize(segments.validate(rules)) == (
        "total_spends > 10000 AND (visit_count < 3 OR last_visit_date older than 90 days)"
        " AND orders.count in the last 180 days >= 2"
        ' AND NOT (attributes.city in ("Pune", "Delhi") OR phone exists)'
        ' AND name starts with "A\\"" (ignoring case)'
    )
