"""Attribution and lift: the aggregation against a plain-Python oracle on generated logs
and orders, and the confidence intervals against published figures and simulation."""

import random
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from bson import ObjectId

from crm import db
from crm.documents import CommunicationLog, Order
from crm.services import lift
from tests.helpers.attribution import Touch, campaign, day, oracle, store
from tests.helpers.commands import listen
from tests.helpers.http import assert_error

START = datetime(2026, 3, 1)


def _generated(rng):
    """Five campaigns over three weeks, overlapping on the same customers; two of them
    touch some customers at the very same instant (a last-touch tie)."""
    windows = [3, 7, 7, 14, 1]
    campaigns = [
        campaign(window_days=w, variants=("A", "B") if i == 1 else ())
        for i, w in enumerate(windows)
    ]
    bases = [
        START,
        START + timedelta(days=4),
        START + timedelta(days=4),
        START + timedelta(days=9),
        START + timedelta(days=10, hours=20),
    ]
    customers = [f"c{i:03}" for i in range(80)]
    touches = []
    for made, base in zip(campaigns, bases, strict=True):
        for customer_id in customers:
            if rng.random() < 0.3:
                continue
            status = rng.choices(["SENT", "HELD_OUT", "FAILED", "ACCEPTED"], [70, 15, 10, 5])[0]
            at = base + timedelta(minutes=rng.randrange(0, 30 * 60))
            if made is campaigns[2] and rng.random() < 0.5:
                same = [
                    t
                    for t in touches
                    if t.campaign_id == campaigns[1].id and t.customer_id == customer_id
                ]
                at = same[0].at if same else at
            variant = rng.choice("AB") if made.variants and status == "SENT" else None
            touches.append(Touch(made.id, customer_id, status, at, variant))
    orders = []
    for customer_id in customers:
        for _ in range(rng.randrange(0, 6)):
            order_day = day(START) + timedelta(days=rng.randrange(-3, 30))
            orders.append((customer_id, order_day, Decimal(rng.randrange(100, 50_000)) / 100))
    # The edges of one touch's window: the day before, the same day, the last day inside,
    # the first day outside.
    edge = next(t for t in touches if t.status == "SENT" and t.campaign_id == campaigns[0].id)
    for offset in (-1, 0, 2, 3):
        orders.append(("edge", day(edge.at) + timedelta(days=offset), Decimal("10.00")))
    touches.append(Touch(edge.campaign_id, "edge", "SENT", edge.at))
    return campaigns, windows, touches, orders


def _money(value):
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _check(figures, messaged):
    assert messaged["members"] == figures.members
    assert messaged["conversions"] == figures.conversions
    assert messaged["orders"] == figures.orders
    assert _money(messaged["revenue"]) == figures.revenue
    assert messaged["window_conversions"] == figures.window_conversions


@pytest.mark.parametrize("seed", [1, 2])
def test_attribution_matches_a_plain_python_oracle(client, seed):
    rng = random.Random(seed)
    campaigns, windows, touches, orders = _generated(rng)
    store(touches, orders)
    expected = oracle(touches, orders, {c.id: w for c, w in zip(campaigns, windows, strict=True)})

    for made in campaigns:
        response = client.get(f"/api/campaign/{made.id}/results")
        assert response.status_code == 200, response.json
        found, wanted = response.json, expected[made.id]
        _check(wanted["messaged"], found["messaged"])
        holdout = found["holdout"]
        assert holdout["members"] == wanted["holdout"].members
        assert holdout["window_conversions"] == wanted["holdout"].window_conversions
        assert _money(holdout["window_revenue"]) == wanted["holdout"].window_revenue
        for variant in found["variants"]:
            _check(wanted["messaged"].by_variant[variant["name"]], variant["messaged"])
    # The data exercises what it is meant to: attributed orders, orders taken by a later
    # campaign, and the tie between the two campaigns touching at the same instant.
    attributed = sum(expected[c.id]["messaged"].orders for c in campaigns)
    in_windows = sum(expected[c.id]["messaged"].window_conversions for c in campaigns)
    assert (
        attributed > 0
        and sum(expected[c.id]["messaged"].conversions for c in campaigns) < in_windows
    )
    tied = {(t.customer_id, t.at) for t in touches if t.campaign_id == campaigns[1].id}
    assert any((t.customer_id, t.at) in tied for t in touches if t.campaign_id == campaigns[2].id)


def test_window_edges_and_orders_before_the_message(client):
    made = campaign(window_days=3, holdout_percent=0)
    sent = datetime(2026, 3, 10, 15, 30)
    touches = [Touch(made.id, "x", "SENT", sent)]
    orders = [
        ("x", datetime(2026, 3, 9), Decimal("1.00")),  # the day before: not attributed
        ("x", datetime(2026, 3, 10), Decimal("2.00")),  # same day: attributed
        ("x", datetime(2026, 3, 12), Decimal("4.00")),  # last day inside
        ("x", datetime(2026, 3, 13), Decimal("8.00")),  # first day outside
    ]
    store(touches, orders)
    messaged = client.get(f"/api/campaign/{made.id}/results").json["messaged"]
    assert (messaged["orders"], messaged["revenue"], messaged["conversions"]) == (2, 6.0, 1)


def test_a_later_campaign_takes_the_orders_after_its_own_message(client):
    first, second = campaign(window_days=7), campaign(window_days=7)
    touches = [
        Touch(first.id, "x", "SENT", datetime(2026, 3, 1, 9)),
        Touch(second.id, "x", "SENT", datetime(2026, 3, 3, 9)),
    ]
    orders = [
        ("x", datetime(2026, 3, 2), Decimal("5.00")),
        ("x", datetime(2026, 3, 4), Decimal("7.00")),
    ]
    store(touches, orders)
    one = client.get(f"/api/campaign/{first.id}/results").json["messaged"]
    two = client.get(f"/api/campaign/{second.id}/results").json["messaged"]
    assert (one["revenue"], two["revenue"]) == (5.0, 7.0)
    assert one["window_conversions"] == two["window_conversions"] == 1


def test_results_of_a_campaign_not_sent_are_empty_and_unknown_ids_are_404(client):
    made = campaign()
    found = client.get(f"/api/campaign/{made.id}/results").json
    assert found["messaged"]["members"] == found["holdout"]["members"] == 0
    assert found["lift"]["absolute"] is None and found["messaged"]["conversion_rate"] is None
    assert_error(client.get(f"/api/campaign/{ObjectId()}/results"), 404)


def test_a_report_is_two_commands_whatever_the_orders(client, settings):
    made = campaign()
    rng = random.Random(3)
    touches = [Touch(made.id, f"c{i}", "SENT", START) for i in range(200)]
    orders = [(f"c{rng.randrange(200)}", day(START), Decimal("1.00")) for _ in range(1000)]
    store(touches, orders)
    listener = listen(settings)

    response = client.get(f"/api/campaign/{made.id}/results")

    assert response.json["messaged"]["orders"] == 1000
    assert listener.names == ["find", "aggregate"]


def test_results_past_their_time_limit_are_a_422(client, settings):
    made = campaign()
    store([Touch(made.id, f"c{i}", "SENT", START) for i in range(1000)], [])
    db.connect(replace(settings, results_timeout_ms=1))
    errors = assert_error(client.get(f"/api/campaign/{made.id}/results"), 422)
    assert errors == {}


def test_the_lookups_have_their_indexes(client):
    client.get("/api/campaign")  # declares the indexes
    orders = Order._get_collection().index_information()
    logs = CommunicationLog._get_collection().index_information()
    assert orders["customer_id_1_order_date_-1__id_-1"]["key"][:2] == [
        ("customer_id", 1),
        ("order_date", -1),
    ]
    assert logs["customer_id_1_accepted_at_1"]["key"] == [("customer_id", 1), ("accepted_at", 1)]


def test_newcombe_and_wilson_match_the_published_examples():
    # Newcombe (1998), Statistics in Medicine 17: 81/263 (Wilson, his table I) and
    # 56/70 - 48/80 (method 10, his table II).
    low, high = lift.wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    found = lift.lift(56, 70, 48, 80)
    assert found.absolute == pytest.approx(0.2)
    assert tuple(round(b, 4) for b in found.absolute_ci) == (0.0524, 0.3339)


def test_lift_on_data_with_a_known_effect_covers_it(client):
    # Given 1,000 messaged members converting at 12% and 1,000 held out at 8%
    rng = random.Random(11)
    made = campaign(holdout_percent=50)
    touches, orders = [], []
    for i in range(2000):
        held_out = i < 1000
        touches.append(Touch(made.id, f"c{i}", "HELD_OUT" if held_out else "SENT", START))
        if rng.random() < (0.08 if held_out else 0.12):
            orders.append((f"c{i}", day(START) + timedelta(days=2), Decimal("20.00")))
    store(touches, orders)
    # When the results are read
    found = client.get(f"/api/campaign/{made.id}/results").json["lift"]
    # Then the absolute lift is near 4 points and its interval covers the true effect
    assert abs(found["absolute"] - 0.04) < 0.03
    assert found["absolute_ci_95"]["low"] < 0.04 < found["absolute_ci_95"]["high"]
    assert found["relative_ci_95"]["low"] < 0.5 < found["relative_ci_95"]["high"]


def test_the_intervals_cover_the_true_lift_95_percent_of_the_time():
    rng = random.Random(5)
    runs, covered, relative_covered = 2000, 0, 0
    for _ in range(runs):
        messaged = sum(rng.random() < 0.12 for _ in range(900))
        held_out = sum(rng.random() < 0.08 for _ in range(300))
        found = lift.lift(messaged, 900, held_out, 300)
        covered += found.absolute_ci[0] <= 0.04 <= found.absolute_ci[1]
        relative_covered += found.relative_ci[0] <= 0.5 <= found.relative_ci[1]
    # 95% nominal; 2,000 runs put the observed share within ±1.6 points (3 sd) of it.
    assert 0.93 <= covered / runs <= 0.97
    assert 0.93 <= relative_covered / runs <= 0.97
