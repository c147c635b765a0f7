"""Queries a user triggers stop at CRM_QUERY_TIMEOUT_MS with a 422 that says what to do."""

from dataclasses import replace

import pytest

from crm import db
from crm.documents import Audience, Customer
from tests.helpers.http import assert_error

SLOW_RULE = {"rules": [{"field": "name", "operator": "contains", "value": "zz"}]}
CUSTOMERS = 3000


@pytest.fixture(name="settings")
def one_millisecond(settings):
    return replace(settings, query_timeout_ms=1)


@pytest.fixture
def many(app):
    Customer._get_collection().insert_many(
        {"customer_id": f"c{i:05}", "name": f"Name {i}", "email": "a@b.co", "visit_count": i}
        for i in range(CUSTOMERS)
    )


def test_a_slow_preview_or_save_is_422_naming_indexed_fields(client, many):
    for path in ("/api/audiences/preview", "/api/audiences"):
        response = client.post(path, json=SLOW_RULE)
        assert_error(response, 422, "json", "rules")
        assert response.json["message"].startswith(
            "The rule matched too slowly (past the 1 ms limit)"
        )
        assert "indexed field (customer_id, email, total_spends" in response.json["message"]
    assert Audience.objects.count() == 0


def test_a_slow_list_page_is_422(client, many):
    response = client.get("/api/customers?page_size=100&count=true")
    assert_error(response, 422)
    assert "1 ms limit" in response.json["message"]


def test_the_same_queries_pass_within_the_default_limit(app, client, many):
    from crm import config

    db.connect(
        replace(app.config["CRM_SETTINGS"], query_timeout_ms=config.Settings.query_timeout_ms)
    )
    preview = client.post("/api/audiences/preview", json=SLOW_RULE)
    assert preview.status_code == 200 and preview.json["size"] == 0
    counted = client.get("/api/customers?count=true")
    assert counted.status_code == 200 and '"total": 3000' in counted.headers["X-Pagination"]
