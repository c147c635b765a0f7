"""Order facts stay bounded, stay exact for every window a rule may name, and the
migration from the former ``order_history`` gives the same audiences."""

from datetime import date, datetime, timedelta
from decimal import Decimal

import bson
from bson import Decimal128
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm.clock import utcnow
from crm.documents import Customer, Order
from crm.documents.customer import MAX_WINDOW_DAYS
from crm.services import order_facts, orders, segments
from crm.services.segments import compiler, fields
from crm.services.segments.compiler import COMPARISONS
from crm.store import transaction

BIG = "walkin"
ORDERS_HELD = 400_000
PER_DAY = ORDERS_HELD // (MAX_WINDOW_DAYS + 1) + 1
LARGEST_AMOUNT = Decimal128("1000000000000.00")


def create_customer(client, customer_id):
    body = {"customer_id": customer_id, "name": "Walk-in", "email": "desk@shop.in"}
    assert client.post("/api/customers", json=body).status_code == 201


def day_bytes():
    """The most one stored day can take."""
    day = {"count": 2**62, "amount": LARGEST_AMOUNT}
    return len(bson.encode({"9999-12-31": day})) - len(bson.encode({}))


def test_a_customer_with_400k_orders_keeps_accepting_orders(client):
    # Given a customer holding 400k orders: one day per day of the longest window, each
    # with ~110 orders, and days older than any window (left by earlier writes)
    create_customer(client, BIG)
    today = datetime.combine(utcnow().date(), datetime.min.time())
    window = [today - timedelta(days=n) for n in range(MAX_WINDOW_DAYS + 1)]
    stale = [today - timedelta(days=MAX_WINDOW_DAYS + n) for n in range(1, 50)]
    days = {
        d.date().isoformat(): {"count": PER_DAY, "amount": Decimal128("5000.00")}
        for d in window + stale
    }
    held = {
        "order_days": days,
        "order_count": PER_DAY * len(days),
        "order_total": Decimal128(str(Decimal("5000.00") * len(days))),
        "first_order_date": stale[-1],
        "last_order_date": today,
    }
    customers = Customer._get_collection()
    customers.update_one({"customer_id": BIG}, {"$set": held})
    assert held["order_count"] >= ORDERS_HELD

    # When orders come through the API (today, the window's first day, older, and later)
    posted = [
        (today, "10.50"),
        (window[-1], "1.00"),
        (today - timedelta(days=MAX_WINDOW_DAYS + 400), "2.00"),
        (today + timedelta(days=1), "3.00"),
    ]
    for n, (day, amount) in enumerate(posted):
        order = {"order_id": f"big{n}", "customer_id": BIG, "order_amount": float(amount)}
        response = client.post("/api/orders", json={**order, "order_date": day.date().isoformat()})
        assert response.status_code == 201, response.json
    # and through the bulk path's update, many orders at once, each on a day of its own
    many = [
        orders.order_document(
            {
                "order_id": f"bulk{n}",
                "customer_id": BIG,
                "order_amount": Decimal("1.00"),
                "order_date": today - timedelta(days=n),
            },
            utcnow(),
        )
        for n in range(2000)
    ]
    assert transaction.run(lambda session: orders.apply_to_customers(many, session)) == 1

    # Then every order counts, stale days are gone, and the document stays bounded
    stored = customers.find_one({"customer_id": BIG})
    assert stored["order_count"] == held["order_count"] + len(posted) + len(many)
    by_day = {datetime.fromisoformat(day): held for day, held in stored["order_days"].items()}
    assert len(by_day) == MAX_WINDOW_DAYS + 2  # + tomorrow
    assert by_day[today]["count"] == PER_DAY + 2
    assert by_day[today]["amount"].to_decimal() == Decimal("5000.00") + Decimal("11.50")
    assert by_day[today - timedelta(days=1999)]["count"] == PER_DAY + 1
    assert by_day[window[-1]]["count"] == PER_DAY + 1
    assert by_day[today + timedelta(days=1)]["count"] == 1
    assert min(by_day) == window[-1]
    skeleton = {key: value for key, value in stored.items() if key != "order_days"}
    bound = len(bson.encode(skeleton)) + 16 + (MAX_WINDOW_DAYS + 2) * day_bytes()
    size = len(bson.encode(stored))
    assert size <= bound < 400_000, (size, bound)

    # And a window rule over the whole window reads them all (but the window's first day,
    # which starts before ``now - MAX_WINDOW_DAYS days`` at any time of day but midnight)
    rule = {"field": "orders.count", "operator": ">=", "value": 1, "within_days": MAX_WINDOW_DAYS}
    preview = client.post("/api/audiences/preview", json={"rules": [rule]}).json
    label = f"orders.count (last {MAX_WINDOW_DAYS} days)"
    assert preview["sample"][0][label] == PER_DAY * (len(window) - 1) + 2 + len(many)

    # And every window's count and total are what a plain reading of the orders gives
    now = utcnow()
    placed = [(day, PER_DAY, Decimal("5000.00")) for day in window + stale]
    placed += [(day, 1, Decimal(amount)) for day, amount in posted]
    placed += [(order["order_date"], 1, Decimal("1.00")) for order in many]
    for days in (1, 2, 30, 365, 1999, 2000, MAX_WINDOW_DAYS - 1, MAX_WINDOW_DAYS):
        kept = [(n, amount) for day, n, amount in placed if day >= now - timedelta(days=days)]
        expected = {
            "orders.count": sum(n for n, _ in kept),
            "orders.total": sum((amount for _, amount in kept), Decimal(0)),
        }
        for name, value in expected.items():
            measure = compiler.measure(fields.FIELDS[name], days, now)
            (found,) = customers.aggregate(
                [{"$match": {"customer_id": BIG}}, {"$project": {"m": measure}}]
            )
            found = found["m"].to_decimal() if name == "orders.total" else found["m"]
            assert found == value, (days, name)


NOW = datetime(2025, 1, 1, 9, 30)
TODAY = datetime(2025, 1, 1)
WINDOWS = [None, 1, 2, 30, 180, 365, MAX_WINDOW_DAYS - 1, MAX_WINDOW_DAYS]
AMOUNTS = ["0.01", "1.10", "250.50", "999.99"]
EDGES = sorted({days + step for days in WINDOWS[1:] for step in (-1, 0, 1)})
ORDER = st.tuples(
    st.integers(-3, MAX_WINDOW_DAYS + 5) | st.sampled_from(EDGES),
    st.sampled_from(AMOUNTS),
)
CUSTOMER = st.lists(ORDER, max_size=6)
RULE = st.fixed_dictionaries(
    {
        "field": st.sampled_from(["orders.count", "orders.total"]),
        "operator": st.sampled_from(sorted(COMPARISONS)),
        "value": st.sampled_from([0, 1, 2, 3, 250.5, 1000]),
    },
    optional={"within_days": st.sampled_from(WINDOWS[1:])},
)


def oracle(rule, placed):
    """The rule read off the plain orders: ``(days ago, amount)``."""
    days = rule.get("within_days")
    kept = [
        Decimal(amount)
        for ago, amount in placed
        if days is None or TODAY - timedelta(days=ago) >= NOW - timedelta(days=days)
    ]
    measure = len(kept) if rule["field"] == "orders.count" else sum(kept, Decimal(0))
    value = Decimal(str(rule["value"]))
    return {
        "=": measure == value,
        "!=": measure != value,
        ">": measure > value,
        ">=": measure >= value,
        "<": measure < value,
        "<=": measure <= value,
    }[rule["operator"]]


def test_window_rules_are_exact_for_every_window(app):
    customers = Customer._get_collection()

    @hypothesis_settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(st.lists(CUSTOMER, min_size=1, max_size=5), st.lists(RULE, min_size=1, max_size=4))
    def check(placed_by_customer, rules):
        customers.delete_many({})
        for n, placed in enumerate(placed_by_customer):
            customers.insert_one({"customer_id": f"c{n}", "name": "N", "email": "n@shop.in"})
            stored = [
                {"order_date": TODAY - timedelta(days=ago), "order_amount": Decimal128(amount)}
                for ago, amount in placed
            ]
            # Written in two updates, the first a year earlier: days it kept are pruned now
            half = len(stored) // 2
            for part, written in ((stored[:half], NOW - timedelta(days=365)), (stored[half:], NOW)):
                if part:
                    customers.update_one(
                        {"customer_id": f"c{n}"}, order_facts.update(part, written)
                    )
        for rule in rules:
            found = customers.find(segments.to_filter({"rules": [rule]}, NOW), {"customer_id": 1})
            expected = {
                f"c{n}" for n, placed in enumerate(placed_by_customer) if oracle(rule, placed)
            }
            assert {c["customer_id"] for c in found} == expected, rule

    check()


def test_each_window_counts_exactly_the_days_at_its_edges(app):
    # Given orders on each day around every window's edge, written over two years
    customers = Customer._get_collection()
    customers.insert_one({"customer_id": "edge", "name": "N", "email": "n@shop.in"})
    placed = [(ago, amount) for ago in EDGES for amount in AMOUNTS[: 1 + ago % 3]]
    for written in (NOW - timedelta(days=700), NOW - timedelta(days=1), NOW):
        part = [(ago, a) for ago, a in placed if (ago % 3 == 0) == (written == NOW)]
        stored = [
            {"order_date": TODAY - timedelta(days=ago), "order_amount": Decimal128(a)}
            for ago, a in part
        ]
        if written != NOW - timedelta(days=1):
            customers.update_one({"customer_id": "edge"}, order_facts.update(stored, written))
    # Then each window's count and total are those of the orders on or after its start
    for days in WINDOWS:
        for field in (
            fields.FIELDS["orders.count"],
            fields.FIELDS["orders.total"],
        ):
            measure = compiler.measure(field, days, NOW)
            found = next(customers.aggregate([{"$project": {"m": measure}}]))["m"]
            kept = [
                Decimal(a)
                for ago, a in placed
                if days is None or TODAY - timedelta(days=ago) >= NOW - timedelta(days=days)
            ]
            expected = sum(kept, Decimal(0)) if field.money else len(kept)
            found = found.to_decimal() if isinstance(found, Decimal128) else found
            assert found == expected, (days, field.name)


def former_filter(rule, now):
    """The filter the former compiler made over ``order_history``."""
    history = {"$ifNull": ["$order_history", []]}
    if rule.get("within_days"):
        cutoff = now - timedelta(days=rule["within_days"])
        cond = {"$gte": ["$$o.date", cutoff]}
        history = {"$filter": {"input": history, "as": "o", "cond": cond}}
    if rule["field"] == "orders.total":
        measure = {"$sum": {"$map": {"input": history, "as": "o", "in": "$$o.amount"}}}
        value = Decimal128(str(rule["value"]))
    else:
        measure, value = {"$size": history}, rule["value"]
    return {"$expr": {COMPARISONS[rule["operator"]]: [measure, value]}}


def test_migration_gives_the_same_audiences_and_runs_twice_unchanged(app, client):
    # Given a database of the former shape: each order also in its customer's order_history
    today = date.today()
    customers, stored_orders = Customer._get_collection(), Order._get_collection()
    for n in range(7):
        placed = [
            (today - timedelta(days=(n * 37 + k * 113) % (MAX_WINDOW_DAYS + 300)), f"{n + k}.25")
            for k in range(n * 3)
        ]
        history = [
            {"date": datetime.combine(d, datetime.min.time()), "amount": Decimal128(a)}
            for d, a in placed
        ]
        customer = {"customer_id": f"m{n}", "name": "N", "email": "n@shop.in"}
        if history:
            dates = [entry["date"] for entry in history]
            customer |= {
                "order_history": history,
                "first_order_date": min(dates),
                "last_order_date": max(dates),
            }
        customers.insert_one(customer)
        for k, entry in enumerate(history):
            order = {"order_id": f"m{n}-{k}", "customer_id": f"m{n}"}
            stored_orders.insert_one(
                {**order, "order_amount": entry["amount"], "order_date": entry["date"]}
            )
    rules = [
        {"field": field, "operator": operator, "value": value, **window}
        for field, value in (("orders.count", 4), ("orders.total", 30))
        for operator in (">=", "<", "=")
        for window in ({}, {"within_days": 30}, {"within_days": 400}, {"within_days": 3650})
    ]
    now = utcnow()
    before = {
        str(rule): sorted(c["customer_id"] for c in customers.find(former_filter(rule, now)))
        for rule in rules
    }
    assert len({tuple(members) for members in before.values()}) > 3  # the rules tell apart

    # When the migration runs (from a saved position first: it resumes there)
    cli = app.test_cli_runner()
    second = customers.find_one({"customer_id": "m1"})["_id"]
    runs = customers.database[order_facts.REBUILDS]
    runs.insert_one({"_id": order_facts.REBUILD_ID, "after": second})
    result = cli.invoke(args=["db", "rebuild-order-facts", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "5 customers" in result.output
    assert customers.find_one({"customer_id": "m1"}).get("order_history")
    result = cli.invoke(args=["db", "rebuild-order-facts", "--batch-size", "2"])
    assert "7 customers" in result.output

    # Then no order_history is left, and previews select the same members
    assert customers.count_documents({"order_history": {"$exists": True}}) == 0
    for rule in rules:
        preview = client.post("/api/audiences/preview", json={"rules": [rule]}).json
        assert preview["size"] == len(before[str(rule)]), rule
        members = customers.find(segments.to_filter({"rules": [rule]}, now), {"customer_id": 1})
        assert sorted(c["customer_id"] for c in members) == before[str(rule)], rule

    # And a second run changes nothing
    migrated = list(customers.find({}, sort=[("_id", 1)]))
    assert cli.invoke(args=["db", "rebuild-order-facts"]).exit_code == 0
    assert list(customers.find({}, sort=[("_id", 1)])) == migrated
    assert runs.find_one({"_id": order_facts.REBUILD_ID}) is None
