import json
from datetime import timedelta

import pytest

from crm.clock import utcnow
from crm.documents import Customer, Order
from tests.helpers.http import assert_error
from tests.helpers.ingestion import upload, wait_for

ORDER = {
    "order_id": "order001",
    "customer_id": "cust001",
    "order_amount": 200,
    "order_date": "2023-01-10",
}


@pytest.fixture
def customer(client):
    body = {"customer_id": "cust001", "name": "Asha", "email": "asha@example.com"}
    body |= {"total_spends": 1000.5, "visit_count": 2, "last_visit_date": "2023-03-01"}
    assert client.post("/api/customers", json=body).status_code == 201


def test_order_updates_its_customer(client, customer):
    response = client.post("/api/orders", json=ORDER)
    assert response.status_code == 201
    assert response.json["order_amount"] == 200

    customer = client.get("/api/customers/cust001").json
    assert customer["total_spends"] == 1200.5
    assert customer["visit_count"] == 3
    # An older order does not move the last visit back.
    assert customer["last_visit_date"] == "2023-03-01"


def test_newer_order_moves_last_visit_forward(client, customer):
    client.post("/api/orders", json={**ORDER, "order_date": "2024-02-29"})
    assert client.get("/api/customers/cust001").json["last_visit_date"] == "2024-02-29"


def test_same_order_twice_counts_once(client, customer):
    assert client.post("/api/orders", json=ORDER).status_code == 201
    again = client.post("/api/orders", json=ORDER)
    assert again.status_code == 200
    customer = client.get("/api/customers/cust001").json
    assert (customer["total_spends"], customer["visit_count"]) == (1200.5, 3)
    assert len(client.get("/api/orders").json) == 1


def test_reused_order_id_with_other_details_is_a_conflict(client, customer):
    client.post("/api/orders", json=ORDER)
    response = client.post("/api/orders", json={**ORDER, "order_amount": 999})
    assert_error(response, 409, "json", "order_id")
    assert client.get("/api/customers/cust001").json["total_spends"] == 1200.5


def test_order_for_unknown_customer_is_rejected_and_not_stored(client):
    assert_error(client.post("/api/orders", json=ORDER), 422, "json", "customer_id")
    assert client.get("/api/orders/order001").status_code == 404


def test_money_keeps_cents_exactly(client, customer):
    for i, amount in enumerate([0.1, 0.2, 0.3]):
        client.post("/api/orders", json={**ORDER, "order_id": f"o{i}", "order_amount": amount})
    assert client.get("/api/customers/cust001").json["total_spends"] == 1001.1


def test_orders_list_filters_by_customer(client, customer):
    client.post("/api/customers", json={"customer_id": "other", "name": "B", "email": "b@b.co"})
    client.post("/api/orders", json=ORDER)
    client.post("/api/orders", json={**ORDER, "order_id": "o2", "customer_id": "other"})
    listed = client.get("/api/orders?customer_id=other").json
    assert [o["order_id"] for o in listed] == ["o2"]
    assert client.get("/api/orders/o2").json["customer_id"] == "other"


def test_an_order_dated_after_tomorrow_is_refused_and_writes_nothing(client, customer):
    # Given the customer as stored before any order
    today = utcnow().date()
    stored = Customer._get_collection().find_one({"customer_id": "cust001"})

    # When orders are dated two days ahead, and far ahead
    for n, ahead in enumerate((2, 3000)):
        day = (today + timedelta(days=ahead)).isoformat()
        response = client.post(
            "/api/orders", json={**ORDER, "order_id": f"f{n}", "order_date": day}
        )

        # Then each is a 422 at order_date, and neither the order nor its day is kept
        errors = assert_error(response, 422, "json", "order_date")
        latest = (today + timedelta(days=1)).isoformat()
        assert errors["json"]["order_date"][0].startswith(f"Must be on or before {latest}")
    assert Order.objects.count() == 0
    assert Customer._get_collection().find_one({"customer_id": "cust001"}) == stored

    # And tomorrow is still accepted (a customer ahead of UTC), as its own order day
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert client.post("/api/orders", json={**ORDER, "order_date": tomorrow}).status_code == 201
    days = Customer._get_collection().find_one({"customer_id": "cust001"})["order_days"]
    assert list(days) == [tomorrow]


def test_an_import_rejects_rows_dated_after_tomorrow_and_takes_the_rest(client, customer, worker):
    far, today = "9999-12-31", utcnow().date().isoformat()
    rows = [
        {**ORDER, "order_id": "now", "order_date": today},
        {**ORDER, "order_id": "later", "order_date": far},
    ]
    body = "\n".join(json.dumps(row) for row in rows)

    job = wait_for(client, upload(client, "orders", body, "application/x-ndjson"))

    assert (job["counts"]["inserted"], job["counts"]["rejected"]) == (1, 1)
    (rejected,) = job["rejections"]
    assert rejected["row"] == 2 and [e["field"] for e in rejected["errors"]] == ["order_date"]
    assert [o.order_id for o in Order.objects] == ["now"]
    days = Customer._get_collection().find_one({"customer_id": "cust001"})["order_days"]
    assert list(days) == [today]
