"""Bulk imports through the API, a real Redis queue and Dramatiq worker threads."""

import json
from dataclasses import replace

import pytest

from crm.documents import Order
from crm.documents.customer import MAX_MONEY
from tests.helpers.ingestion import upload, wait_for

CUSTOMERS_CSV = """customer_id,name,email,visit_count,city
c1,Asha Rao,asha@example.com,2,Pune
c1,Asha Rao,asha@example.com,2,Pune
c2,Ben Ito,not-an-email,1,Osaka
c3,Chen Li,chen@example.com,,Xi'an
c3,Chen Li,chen@example.com,,Beijing
c4,,dan@example.com,,Delhi
c5,Eve Moss,eve@example.com,1,Leeds,surplus
"""

ORDERS = [
    {"order_id": "o1", "customer_id": "c1", "order_amount": 100.5, "order_date": "2024-01-10"},
    {"order_id": "o2", "customer_id": "c1", "order_amount": 50, "order_date": "2024-03-01"},
    {"order_id": "o3", "customer_id": "c3", "order_amount": 20, "order_date": "2023-12-24"},
    {"order_id": "o1", "customer_id": "c1", "order_amount": 100.5, "order_date": "2024-01-10"},
    {"order_id": "o2", "customer_id": "c1", "order_amount": 999, "order_date": "2024-03-01"},
    {"order_id": "o4", "customer_id": "c3", "order_amount": -1, "order_date": "2024-01-01"},
]


@pytest.fixture
def settings(settings):
    """Chunks of four records, so that these uploads span a few queue messages."""
    return replace(settings, ingest_chunk_size=4, ingest_park_seconds=30)


def customer(client, customer_id):
    return client.get(f"/api/customers/{customer_id}").json


def rejected_rows(job):
    return {r["row"]: {e["field"] for e in r["errors"]} for r in job["rejections"]}


def test_csv_with_good_bad_and_duplicate_rows(client, worker):
    job = wait_for(client, upload(client, "customers", CUSTOMERS_CSV, "text/csv"))

    assert job["status"] == "DONE" and job["kind"] == "customers" and job["format"] == "csv"
    assert job["counts"] == {
        "received": 7,
        "valid": 2,
        "rejected": 5,
        "inserted": 2,
        "updated": 0,
        "duplicates": 2,
        "parked": 0,
    }
    # Rows as an editor numbers them: the header is line 1.
    assert rejected_rows(job) == {
        3: {"customer_id"},
        4: {"email"},
        6: {"customer_id"},
        7: {"name"},
        8: {"_schema"},
    }
    assert job["progress"] == {"chunks": 1, "chunks_done": 1, "percent": 100.0}
    asha = customer(client, "c1")
    assert asha["visit_count"] == 2 and asha["attributes"] == {"city": "Pune"}
    # A customer_id given again: the first row is imported, the later one rejected.
    assert customer(client, "c3")["attributes"] == {"city": "Xi'an"}
    assert client.get("/api/customers/c2").status_code == 404


def test_json_array_of_orders_applies_each_once(client, worker):
    wait_for(client, upload(client, "customers", CUSTOMERS_CSV, "text/csv"))

    job = wait_for(client, upload(client, "orders", json.dumps(ORDERS), "application/json"))

    counts = job["counts"]
    assert (counts["received"], counts["inserted"], counts["duplicates"]) == (6, 3, 1)
    assert counts["rejected"] == 2 and counts["valid"] == 4
    assert rejected_rows(job) == {5: {"order_id"}, 6: {"order_amount"}}
    asha = customer(client, "c1")
    assert (asha["total_spends"], asha["visit_count"]) == (150.5, 4)
    assert asha["last_visit_date"] == "2024-03-01"
    assert customer(client, "c3")["total_spends"] == 20


def test_ndjson_orders_and_the_same_upload_again(client, worker):
    wait_for(client, upload(client, "customers", CUSTOMERS_CSV, "text/csv"))
    lines = [json.dumps(order) for order in ORDERS[:3]]
    body = "\n".join([lines[0], "{not json", "", lines[1], lines[2]]) + "\n"

    first = wait_for(client, upload(client, "orders", body, "application/x-ndjson"))
    again = wait_for(client, upload(client, "orders", body, "application/x-ndjson"))

    assert first["counts"]["inserted"] == 3 and rejected_rows(first) == {2: {"_schema"}}
    assert again["counts"]["inserted"] == 0 and again["counts"]["duplicates"] == 3
    assert customer(client, "c1")["visit_count"] == 4
    assert Order.objects.count() == 3


def test_form_upload_takes_its_format_from_the_file_name(client, worker):
    response = client.post(
        "/api/customers/bulk",
        data={"file": (__import__("io").BytesIO(CUSTOMERS_CSV.encode()), "export.csv")},
        content_type="multipart/form-data",
    )
    job = wait_for(client, response)
    assert job["format"] == "csv" and job["filename"] == "export.csv"
    assert job["counts"]["inserted"] == 2


def test_orders_that_would_pass_a_customers_spend_maximum_are_rejected(client, worker):
    near_max = float(MAX_MONEY) - 10
    rich = {"customer_id": "rich", "name": "R", "email": "r@x.io", "total_spends": near_max}
    assert client.post("/api/customers", json=rich).status_code == 201
    wait_for(client, upload(client, "customers", CUSTOMERS_CSV, "text/csv"))
    orders = [
        {"order_id": "r1", "customer_id": "rich", "order_amount": 6, "order_date": "2024-01-01"},
        {"order_id": "r2", "customer_id": "rich", "order_amount": 6, "order_date": "2024-01-02"},
        {"order_id": "a1", "customer_id": "c1", "order_amount": 7, "order_date": "2024-01-03"},
    ]

    job = wait_for(client, upload(client, "orders", json.dumps(orders), "application/json"))

    assert job["status"] == "DONE", job
    # Rows of a JSON array count from 1; the customer takes orders until one would not fit.
    assert rejected_rows(job) == {2: {"order_amount"}}
    assert job["counts"]["inserted"] == 2
    assert customer(client, "rich")["total_spends"] == near_max + 6
    assert customer(client, "c1")["total_spends"] == 7
    assert [o.order_id for o in Order.objects(customer_id="rich")] == ["r1"]
