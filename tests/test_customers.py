from tests.helpers.http import assert_error

CUSTOMER = {
    "customer_id": "cust010",
    "name": "Shubh",
    "email": "shubh@ipu.ac.in",
    "total_spends": 120000,
    "last_visit_date": "2023-06-12",
    "visit_count": 7,
}


def test_seed_customer_is_created_then_updated_in_place(client):
    created = client.post("/api/customers", json=CUSTOMER)
    assert created.status_code == 201
    assert created.json["customer_id"] == "cust010"
    assert created.json["total_spends"] == 120000
    assert created.json["last_visit_date"] == "2023-06-12"

    updated = client.post("/api/customers", json={**CUSTOMER, "name": "Shubh S", "visit_count": 8})
    assert updated.status_code == 200
    assert updated.json["name"] == "Shubh S"

    listed = client.get("/api/customers")
    assert [c["customer_id"] for c in listed.json] == ["cust010"]
    assert listed.json[0]["visit_count"] == 8


def test_partial_repost_keeps_fields_not_given(client):
    client.post("/api/customers", json=CUSTOMER)
    client.post("/api/customers", json={"customer_id": "cust010", "name": "S", "email": "s@x.io"})
    customer = client.get("/api/customers/cust010").json
    assert customer["total_spends"] == 120000
    assert customer["visit_count"] == 7


def test_new_customer_without_aggregates_starts_at_zero(client):
    response = client.post(
        "/api/customers", json={"customer_id": "c1", "name": "A", "email": "a@b.co"}
    )
    assert response.status_code == 201
    assert response.json["total_spends"] == 0
    assert response.json["visit_count"] == 0


def test_list_is_paginated(client):
    for i in range(5):
        client.post("/api/customers", json={"customer_id": f"c{i}", "name": "A", "email": "a@b.co"})
    page = client.get("/api/customers?page=2&page_size=2")
    assert [c["customer_id"] for c in page.json] == ["c2", "c3"]
    assert '"total": 5' in page.headers["X-Pagination"]


def test_unknown_customer_is_404_in_error_shape(client):
    assert_error(client.get("/api/customers/nobody"), 404)
