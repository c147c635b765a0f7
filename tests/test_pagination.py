"""Lists page by cursor: every item once, in order, at a cost that does not grow with depth."""

import json
from dataclasses import replace
from datetime import datetime, timedelta

import mongoengine
import pytest

from crm.documents import CommunicationLog, Customer, MessageStatus, Order
from crm.services.pages import BY_CUSTOMER_ID, OLDEST_ID
from tests.helpers.commands import listen
from tests.helpers.factories import counted_log, sending_campaign
from tests.helpers.http import assert_error

# Customers in the list the deep-page test reads: 200,000 took 100 s on SecantusDB
# (inserts, index builds, dropping the database), 50,000 a quarter of that.
DEEP_LIST = 50_000


def metadata(response):
    return json.loads(response.headers["X-Pagination"])


def walk(client, url):
    """Every item of a list, following the Link header; and the pages' metadata."""
    items, pages = [], []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.json
        items += response.json
        pages.append(metadata(response))
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        if link:
            assert link.endswith('>; rel="next"')
            assert f"after={pages[-1]['next_after']}" in url
    return items, pages


def add_raw_orders(count, customers=3, days=4):
    """``count`` orders over a few days and customers, so that many share a day."""
    start = datetime(2024, 1, 1)
    Order._get_collection().insert_many(
        {
            "order_id": f"o{i:04}",
            "customer_id": f"c{i % customers}",
            "order_amount": 10,
            "order_date": start + timedelta(days=i % days),
        }
        for i in range(count)
    )


def test_customers_by_cursor_are_each_listed_once_in_order(client):
    Customer._get_collection().insert_many(
        {"customer_id": f"c{i:03}", "name": "N", "email": f"c{i % 3}@example.com"}
        for i in range(25)
    )
    items, pages = walk(client, "/api/customers?page_size=7")
    assert [c["customer_id"] for c in items] == [f"c{i:03}" for i in range(25)]
    assert [len(p.get("next_after", "")) > 0 for p in pages] == [True, True, True, False]
    # A filter is kept in the next page's link.
    filtered, _ = walk(client, "/api/customers?page_size=2&email=c1@example.com")
    assert [c["customer_id"] for c in filtered] == [f"c{i:03}" for i in range(1, 25, 3)]


def test_orders_by_cursor_are_newest_first_with_ties_on_the_day(client):
    add_raw_orders(30)
    items, _ = walk(client, "/api/orders?page_size=4")
    stored = list(Order._get_collection().find().sort([("order_date", -1), ("_id", -1)]))
    assert [o["order_id"] for o in items] == [o["order_id"] for o in stored]
    assert len({o["order_id"] for o in items}) == 30
    mine, _ = walk(client, "/api/orders?page_size=3&customer_id=c1")
    assert [o["order_id"] for o in mine] == [
        o["order_id"] for o in stored if o["customer_id"] == "c1"
    ]


def test_campaign_logs_by_cursor_with_and_without_a_status(client):
    campaign = sending_campaign()
    statuses = [MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SENT] * 5
    for i, status in enumerate(statuses):
        counted_log(campaign, status, customer_id=f"c{i:02}")
    url = f"/api/campaign/{campaign.id}/logs?page_size=4"
    every, pages = walk(client, url)
    assert [log["customer_id"] for log in every] == [f"c{i:02}" for i in range(15)]
    assert (pages[0]["total"], pages[0]["total_is"]) == (15, "estimated")  # the kept counts
    failed, pages = walk(client, f"{url}&status=FAILED")
    assert [log["customer_id"] for log in failed] == [f"c{i:02}" for i in range(1, 15, 3)]
    assert pages[0]["total"] == 5


def test_campaigns_audiences_and_keys_page_newest_first(client):
    for _ in range(5):
        sending_campaign()
    campaigns, _ = walk(client, "/api/campaign?page_size=2")
    assert len({c["id"] for c in campaigns}) == 5
    assert [c["created_at"] for c in campaigns] == sorted(
        (c["created_at"] for c in campaigns), reverse=True
    )
    audiences, _ = walk(client, "/api/audiences?page_size=2")
    assert len({a["id"] for a in audiences}) == 5
    keys, _ = walk(client, "/api/keys?page_size=1")
    assert len(keys) == 1


def test_totals_are_estimated_unfiltered_exact_when_asked_absent_otherwise(client):
    add_raw_orders(12)
    unfiltered = metadata(client.get("/api/orders"))
    assert (unfiltered["total"], unfiltered["total_is"]) == (12, "estimated")
    filtered = metadata(client.get("/api/orders?customer_id=c0&page_size=3"))
    assert "total" not in filtered and filtered["next_page"] == 2
    counted = metadata(client.get("/api/orders?customer_id=c0&count=true"))
    assert (counted["total"], counted["total_is"]) == (4, "exact")


def test_numbered_pages_still_work_within_their_bound(client):
    Customer._get_collection().insert_many(
        {"customer_id": f"c{i}", "name": "N", "email": "a@b.co"} for i in range(5)
    )
    page = client.get("/api/customers?page=2&page_size=2")
    assert [c["customer_id"] for c in page.json] == ["c2", "c3"]
    about = metadata(page)
    assert (about["page"], about["previous_page"], about["next_page"]) == (2, 1, 3)
    # The cursor of a numbered page leads on to the next one.
    after = client.get(f"/api/customers?page_size=2&after={about['next_after']}")
    assert [c["customer_id"] for c in after.json] == ["c4"]
    assert "next_after" not in metadata(after) and "Link" not in after.headers


@pytest.mark.parametrize(
    "query",
    ["page=101&page_size=100", "page=10001", "page=2&page_size=10000"],
)
def test_a_numbered_page_past_the_bound_is_422_pointing_to_after(client, query):
    errors = assert_error(client.get(f"/api/customers?{query}"), 422)
    assert set(errors["query"]) <= {"page", "page_size"}
    if "page_size" not in errors["query"]:
        assert "`after`" in errors["query"]["page"][0]


def test_a_cursor_not_made_by_the_list_is_422(client):
    add_raw_orders(3)
    order_cursor = metadata(client.get("/api/orders?page_size=1"))["next_after"]
    for cursor in (order_cursor, "bm90LWpzb24", "AAAA", "W10"):
        errors = assert_error(client.get(f"/api/customers?after={cursor}"), 422)
        assert list(errors["query"]) == ["after"], cursor
    both = assert_error(client.get(f"/api/orders?page=1&after={order_cursor}"), 422)
    assert "either" in both["query"]["page"][0]
    assert_error(client.get("/api/orders?after=a%2Bb"), 422, "query", "after")


def test_a_cursor_for_logs_of_another_campaign_reads_only_this_campaigns_logs(client):
    one, other = sending_campaign(), sending_campaign()
    counted_log(one, MessageStatus.SENT, customer_id="a")
    counted_log(other, MessageStatus.SENT, customer_id="b")
    cursor = metadata(client.get(f"/api/campaign/{one.id}/logs?page_size=1&count=true"))
    assert cursor["total"] == 1 and "next_after" not in cursor
    first = CommunicationLog.objects(campaign_id=one.id).first()
    page = client.get(f"/api/campaign/{other.id}/logs?after={OLDEST_ID.cursor(first)}")
    assert [log["customer_id"] for log in page.json] == ["b"]


def stages(plan):
    """Every stage name of a query plan, depth first."""
    yield plan["stage"]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            yield from stages(child)


def test_a_deep_page_of_a_large_list_reads_one_page(app, client, settings):
    # Given DEEP_LIST customers, inserted raw in batches
    collection = Customer._get_collection()
    for start in range(0, DEEP_LIST, 10_000):
        collection.insert_many(
            {"customer_id": f"c{i:07}", "name": "N", "email": "a@b.co"}
            for i in range(start, min(start + 10_000, DEEP_LIST))
        )
    depth = DEEP_LIST * 3 // 4
    deep = Customer.objects(customer_id=f"c{depth:07}").first()
    # SecantusDB reads every key after a cursor (mongod stops at the limit), which on a busy
    # machine can pass the 5 s limit: what this test counts is reads, not time.
    commands = listen(replace(settings, query_timeout_ms=120_000))

    # When the page after customer #depth is asked for by its cursor
    response = client.get(f"/api/customers?page_size=50&after={BY_CUSTOMER_ID.cursor(deep)}")

    # Then it is that page, read by one indexed find of 51 documents, with no count
    assert [c["customer_id"] for c in response.json] == [
        f"c{i:07}" for i in range(depth + 1, depth + 51)
    ]
    assert metadata(response)["total"] == DEEP_LIST
    on_customers = commands.on("customers")
    assert [name for name, _ in on_customers] == ["find", "count"], on_customers
    (_, find), (_, count) = on_customers
    assert (find["limit"], find.get("skip", 0), find["sort"]) == (51, 0, {"customer_id": 1})
    assert find["filter"] == {"customer_id": {"$gt": f"c{depth:07}"}}
    assert commands.returned <= 51
    assert "query" not in count  # estimatedDocumentCount: from the collection's metadata
    command = {k: v for k, v in find.items() if k not in ("lsid", "$db", "$clusterTime")}
    explained = mongoengine.get_db().command("explain", command, verbosity="queryPlanner")
    plan = list(stages(explained["queryPlanner"]["winningPlan"]))
    assert "IXSCAN" in plan and not {"SORT", "COLLSCAN", "SKIP"} & set(plan), plan
    # And a numbered page that deep is refused, pointing to the cursor
    body = assert_error(client.get(f"/api/customers?page={depth // 50}&page_size=50"), 422)
    assert "`after`" in body["query"]["page"][0]
