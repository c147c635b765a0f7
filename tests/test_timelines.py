"""The console's charts over time: buckets as the logs and orders say, read through indexes."""

from datetime import datetime, timedelta
from decimal import Decimal

import mongoengine
from pymongo import monitoring

from crm import db
from crm.clock import utcnow
from crm.documents import Campaign, CampaignStatus, MessageStatus
from crm.services import customers, orders, timelines
from crm.store import order_days
from tests.helpers.factories import counted_log, sending_campaign

START = datetime(2026, 3, 2, 12, 0, 0)


class Aggregates(monitoring.CommandListener):
    def __init__(self):
        self.sent = []

    def started(self, event):
        if event.command_name == "aggregate":
            self.sent.append(dict(event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def _index_of(aggregate):
    """The index the server reads the aggregation's first stage through (None: a scan)."""
    command = {k: v for k, v in aggregate.items() if k in ("aggregate", "pipeline", "hint")}
    command["cursor"] = {}
    explained = mongoengine.get_db().command("explain", command, verbosity="queryPlanner")
    plan = explained["queryPlanner"]["winningPlan"]
    while "inputStage" in plan:
        plan = plan["inputStage"]
    return plan.get("indexName")


def _watching(settings):
    aggregates = Aggregates()
    db.connect(settings, [aggregates])
    db.ensure_indexes()
    return aggregates


def test_deliveries_are_bucketed_by_when_each_message_settled(app, settings):
    # Given a campaign sent over 90 s: settled logs at known moments, one still waiting
    campaign = sending_campaign(started_at=START, completed_at=START + timedelta(seconds=90))
    settled = [(0, "SENT"), (1, "SENT"), (14, "SENT"), (16, "SENT"), (16, "FAILED"), (89, "SENT")]
    for i, (second, status) in enumerate(settled):
        at = START + timedelta(seconds=second)
        counted_log(campaign, MessageStatus(status), customer_id=f"c{i}", updated_at=at)
    counted_log(campaign, MessageStatus.ACCEPTED, customer_id="c-open", updated_at=START)
    aggregates = _watching(settings)

    timeline = timelines.deliveries(campaign.reload())

    # Then 5-second buckets from the start to the end, empty ones included
    assert timeline["step"] == "5 seconds"
    buckets = {b["at"]: (b["sent"], b["failed"]) for b in timeline["buckets"]}
    assert list(buckets) == [START + timedelta(seconds=s) for s in range(0, 95, 5)]
    assert {at: n for at, n in buckets.items() if n != (0, 0)} == {
        START: (2, 0),
        START + timedelta(seconds=10): (1, 0),
        START + timedelta(seconds=15): (1, 1),
        START + timedelta(seconds=85): (1, 0),
    }
    # read by one aggregation through the (campaign_id, status, updated_at) index
    [aggregate] = aggregates.sent
    assert _index_of(aggregate) == "campaign_id_1_status_1_updated_at_1"


def test_a_refresh_counts_only_what_settled_since_the_buckets_it_kept(app, settings):
    # Given a campaign sending for ten minutes, charted once
    now = utcnow()
    campaign = sending_campaign(started_at=now - timedelta(minutes=10))
    for i, back in enumerate((590, 300, 200, 5)):
        at = now - timedelta(seconds=back)
        counted_log(campaign, MessageStatus.SENT, customer_id=f"c{i}", updated_at=at)
    aggregates = _watching(settings)
    first = timelines.deliveries(campaign)
    assert sum(b["sent"] for b in first["buckets"]) == 4
    assert "updated_at" not in aggregates.sent[0]["pipeline"][0]["$match"]

    # When one more message settles and the chart is refreshed
    counted_log(campaign, MessageStatus.FAILED, customer_id="c-late", updated_at=utcnow())
    second = timelines.deliveries(campaign)

    # Then only the messages settled lately were read, and the chart holds them all
    since = aggregates.sent[1]["pipeline"][0]["$match"]["updated_at"]["$gte"]
    assert now - timedelta(seconds=200) < since <= utcnow() - timelines.OPEN_TRANSACTIONS
    assert sum(b["sent"] for b in second["buckets"]) == 4
    assert sum(b["failed"] for b in second["buckets"]) == 1
    assert _index_of(aggregates.sent[1]) == "campaign_id_1_status_1_updated_at_1"

    # And once COMPLETED, its buckets are kept whole: no more reading
    Campaign.objects(id=campaign.id).update_one(
        set__status=CampaignStatus.COMPLETED, set__completed_at=utcnow()
    )
    done = timelines.deliveries(campaign.reload())
    again = timelines.deliveries(campaign)
    assert len(aggregates.sent) == 3 and again == done


def test_the_bucket_grows_with_the_span_and_stays_within_sixty():
    for span in (timedelta(seconds=30), timedelta(minutes=20), timedelta(days=3)):
        step = timelines.step_for(span)
        assert span / step.delta < timelines.MAX_BUCKETS
        smaller = [s for s in timelines.STEPS if s[1] == step.unit and s[0] < step.size]
        assert all(span / timelines.Step(*s).delta >= timelines.MAX_BUCKETS - 1 for s in smaller)


def test_orders_revenue_and_new_customers_count_the_last_90_days_only(app, settings):
    today = datetime(2026, 3, 2)
    for i in range(3):
        customers.upsert({"customer_id": f"c{i}", "name": "N", "email": f"c{i}@example.com"})
    placed = [("o1", "c0", "10.50", 0), ("o2", "c0", "4.50", 0), ("o3", "c1", "7.25", 89)]
    placed.append(("o4", "c2", "99.00", 90))  # the day before the window
    for order_id, customer_id, amount, back in placed:
        day = today - timedelta(days=back)
        orders.record(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "order_amount": Decimal(amount),
                "order_date": day,
            }
        )
    aggregates = _watching(settings)

    days = timelines.orders_by_day(today)
    new = timelines.new_customers_by_day(today)

    assert [d["day"] for d in days] == [today - timedelta(days=b) for b in range(89, -1, -1)]
    counted = {d["day"]: (d["orders"], d["revenue"]) for d in days if d["orders"]}
    assert counted == {
        today: (2, Decimal("15.00")),
        today - timedelta(days=89): (1, Decimal("7.25")),
    }
    assert {d["day"] for d in new if d["customers"]} == {today, today - timedelta(days=89)}
    assert sum(d["customers"] for d in new) == 2
    by_collection = {a["aggregate"]: _index_of(a) for a in aggregates.sent}
    assert by_collection == {
        "orders": "order_date_-1__id_-1",
        "customers": "first_order_date_1",
    }


def _place(order_id, day, amount="10.00"):
    customers.upsert({"customer_id": "c0", "name": "N", "email": "c0@example.com"})
    orders.record(
        {
            "order_id": order_id,
            "customer_id": "c0",
            "order_amount": Decimal(amount),
            "order_date": day,
        }
    )


def _range(first, last):
    return {"order_date": {"$gte": first, "$lt": last + timedelta(days=1)}}


def test_past_days_are_read_from_their_kept_totals_until_an_order_of_theirs_is_written(
    app, settings
):
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    _place("o1", today - timedelta(days=3))
    _place("o2", today - timedelta(days=40), "5.00")
    aggregates = _watching(settings)
    first = timelines.orders_by_day()
    assert aggregates.sent[-1]["pipeline"][0]["$match"] == _range(today - timedelta(days=89), today)

    # Nothing written since: the past days are read from their totals, today is counted.
    assert timelines.orders_by_day() == first
    assert aggregates.sent[-1]["pipeline"][0]["$match"] == _range(today, today)

    # An order backfilled onto one of those days: that day is counted again, with today.
    _place("o3", today - timedelta(days=3), "2.50")
    again = timelines.orders_by_day()
    three_days_ago = _range(today - timedelta(days=3), today - timedelta(days=3))
    match = aggregates.sent[-1]["pipeline"][0]["$match"]
    assert match == {"$or": [three_days_ago, _range(today, today)]}
    by_day = {d["day"]: (d["orders"], d["revenue"]) for d in again if d["orders"]}
    assert by_day == {
        today - timedelta(days=3): (2, Decimal("12.50")),
        today - timedelta(days=40): (1, Decimal("5.00")),
    }
    assert len(aggregates.sent) == 3


def test_an_order_written_during_a_count_leaves_its_day_to_be_counted_again(app):
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=2)
    _place("o1", day)
    started_at = utcnow()
    _, marks = order_days.read([day])
    _place("o2", day)  # committed after the count read the marks, unseen by it

    order_days.keep(started_at, {day: (1, Decimal("10.00"))}, marks[day])

    assert len(order_days.read([day])[1][day]) == 1


def test_of_two_counts_of_a_day_the_later_one_keeps_its_totals(app):
    day = datetime(2026, 3, 1)
    later, earlier = utcnow(), utcnow() - timedelta(seconds=1)
    order_days.keep(later, {day: (2, Decimal("20.00"))}, [])
    order_days.keep(earlier, {day: (1, Decimal("10.00"))}, [])  # finished after it
    kept, _ = order_days.read([day])
    assert kept[day]["orders"] == 2
