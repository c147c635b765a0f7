"""Bad input gets a 4xx in the one error shape, with field-level detail, and writes nothing."""

import pytest

from tests.helpers.http import assert_error

CUSTOMER = {"customer_id": "c1", "name": "A", "email": "a@b.co"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "email": "a@b.co"}, "customer_id"),
        ({**CUSTOMER, "email": "not-an-email"}, "email"),
        ({**CUSTOMER, "total_spends": -5}, "total_spends"),
        ({**CUSTOMER, "total_spends": "lots"}, "total_spends"),
        ({**CUSTOMER, "visit_count": 2.5}, "visit_count"),
        ({**CUSTOMER, "visit_count": "3"}, "visit_count"),
        ({**CUSTOMER, "last_visit_date": "12/06/2023"}, "last_visit_date"),
        ({**CUSTOMER, "last_visit_date": "2023-02-30"}, "last_visit_date"),
        ({**CUSTOMER, "unexpected": 1}, "unexpected"),
        ({**CUSTOMER, "customer_id": "$where"}, "customer_id"),
        ({**CUSTOMER, "customer_id": {"$ne": None}}, "customer_id"),
        ({**CUSTOMER, "attributes": {"$set": 1}}, "attributes"),
        ({**CUSTOMER, "attributes": {"city": {"nested": 1}}}, "attributes"),
    ],
)
def test_bad_customer_is_422_with_the_field_named(client, body, field):
    errors = assert_error(client.post("/api/customers", json=body), 422)
    assert field in errors["json"]
    assert client.get("/api/customers").json == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_amount": -1}, "order_amount"),
        ({"order_amount": 0}, "order_amount"),
        ({"order_amount": "NaN"}, "order_amount"),
        ({"order_date": "yesterday"}, "order_date"),
        ({"customer_id": ""}, "customer_id"),
    ],
)
def test_bad_order_is_422(client, change, field):
    client.post("/api/customers", json=CUSTOMER)
    body = {"order_id": "o1", "customer_id": "c1", "order_amount": 5, "order_date": "2024-01-01"}
    errors = assert_error(client.post("/api/orders", json={**body, **change}), 422)
    assert field in errors["json"]
    assert client.get("/api/customers/c1").json["visit_count"] == 0


def test_malformed_json_is_400(client):
    response = client.post("/api/customers", data="{not json", content_type="application/json")
    assert_error(response, 400)


def test_body_that_is_not_an_object_is_422(client):
    assert_error(client.post("/api/customers", json=[CUSTOMER]), 422)


def test_huge_body_is_413(client):
    body = {**CUSTOMER, "name": "x" * 2_000_000}
    assert_error(client.post("/api/customers", json=body), 413)


def test_malformed_object_id_in_path_is_404(client):
    assert_error(client.get("/api/campaign/not-an-id"), 404)


def test_malformed_object_id_in_body_is_422(client):
    errors = assert_error(client.post("/api/sendCampaign", json={"campaign_id": "zzz"}), 422)
    assert "campaign_id" in errors["json"]


def test_unknown_route_and_wrong_method_keep_the_shape(client):
    assert_error(client.get("/api/nothing-here"), 404)
    assert_error(client.delete("/api/customers"), 405)
