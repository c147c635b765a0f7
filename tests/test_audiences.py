"""Audiences over the API: the seed's request, previews, the saved lifecycle and bad input."""

from datetime import date, timedelta

import pytest

from crm.documents import Campaign, CampaignStatus
from tests.helpers.commands import listen
from tests.helpers.http import assert_error

SEED = {
    "rules": [
        {"field": "total_spends", "operator": ">", "value": 1000},
        {"field": "visit_count", "operator": ">=", "value": 4},
    ],
    "logic": "AND",
}


@pytest.fixture
def commands(app, settings):
    listener = listen(settings)
    return listener


@pytest.fixture
def seeded(client):
    for i in range(10):
        customer = {
            "customer_id": f"cust{i:03}",
            "name": f"Customer {i}",
            "email": f"cust{i}@example.com",
            "total_spends": 500 * i,
            "visit_count": i % 8,
            "attributes": {"city": "Pune" if i % 2 else "Delhi", "vip": i > 6},
        }
        assert client.post("/api/customers", json=customer).status_code == 201
    return [f"cust{i:03}" for i in range(10) if 500 * i > 1000 and i % 8 >= 4]


def test_seed_request_saves_the_audience_with_its_size(client, seeded):
    response = client.post("/api/audience", json=SEED)
    assert response.status_code == 201, response.json
    audience = response.json
    assert audience["size"] == len(seeded) == 4
    assert audience["summary"] == "total_spends > 1000 AND visit_count >= 4"
    assert (audience["logic"], audience["rules"]) == (SEED["logic"], SEED["rules"])
    assert {"id", "computed_at", "created_at", "updated_at"} <= set(audience)
    assert client.get(f"/api/audiences/{audience['id']}").json == audience


def test_preview_counts_in_one_command_and_saves_nothing(client, seeded, commands):
    response = client.post("/api/audiences/preview", json=SEED)
    assert response.status_code == 200, response.json
    assert commands.names == ["aggregate"]
    assert response.json["size"] == 4
    assert response.json["summary"] == "total_spends > 1000 AND visit_count >= 4"
    assert [member["customer_id"] for member in response.json["sample"]] == seeded
    assert set(response.json["sample"][0]) == {
        "customer_id",
        "name",
        "email",
        "total_spends",
        "visit_count",
    }
    assert client.get("/api/audiences").json == []


def test_saving_counts_with_one_command(client, seeded, commands):
    client.post("/api/audiences", json=SEED)
    assert commands.names.count("aggregate") == 1  # count_documents is one aggregate
    assert commands.names.count("insert") == 1


def test_order_window_rules_follow_recorded_orders(client, seeded):
    today = date.today()
    for n, days_ago in enumerate([2, 10, 40, 400]):
        order = {
            "order_id": f"o{n}",
            "customer_id": "cust001" if n < 3 else "cust002",
            "order_amount": 100,
            "order_date": (today - timedelta(days=days_ago)).isoformat(),
        }
        assert client.post("/api/orders", json=order).status_code == 201
    assert client.post("/api/orders", json=order).status_code == 200  # a repeat counts once
    rules = {"rules": [{"field": "orders.count", "operator": ">=", "value": 2, "within_days": 30}]}
    preview = client.post("/api/audiences/preview", json=rules).json
    assert preview["size"] == 1
    assert preview["sample"][0]["orders.count (last 30 days)"] == 2
    lifetime = {"field": "orders.count", "operator": "=", "value": 1}
    assert client.post("/api/audiences/preview", json={"rules": [lifetime]}).json["size"] == 1
    recent = {"field": "orders.last_date", "operator": "within_last_days", "value": 30}
    assert client.post("/api/audiences/preview", json={"rules": [recent]}).json["size"] == 1
    ever = {"rules": [{"field": "orders.total", "operator": ">", "value": 0}]}
    assert client.post("/api/audiences/preview", json=ever).json["size"] == 2


def test_saved_audience_lifecycle(client, seeded):
    audience = client.post("/api/audiences", json={**SEED, "name": "Loyal"}).json
    listed = client.get("/api/audiences")
    assert [a["id"] for a in listed.json] == [audience["id"]]
    assert '"total": 1' in listed.headers["X-Pagination"]

    renamed = client.patch(f"/api/audiences/{audience['id']}", json={"name": "Big spenders"}).json
    assert (renamed["name"], renamed["size"]) == ("Big spenders", 4)
    widened = client.patch(f"/api/audiences/{audience['id']}", json={"logic": "OR"}).json
    assert (widened["size"], widened["rules"]) == (7, SEED["rules"])

    new = {"customer_id": "new", "name": "N", "email": "n@x.io", "total_spends": 5000}
    client.post("/api/customers", json=new)
    refreshed = client.post(f"/api/audience/{audience['id']}/refresh").json
    assert refreshed["size"] == 8
    assert refreshed["computed_at"] >= widened["computed_at"]

    assert client.delete(f"/api/audiences/{audience['id']}").status_code == 204
    assert client.get(f"/api/audiences/{audience['id']}").status_code == 404


def test_delete_is_refused_while_a_campaign_is_sending_or_paused(client, seeded):
    audience = client.post("/api/audiences", json=SEED).json
    campaign = Campaign(audience_id=audience["id"], message="Hi", status=CampaignStatus.SENDING)
    campaign.save()
    assert_error(client.delete(f"/api/audiences/{audience['id']}"), 409)
    campaign.update(status=CampaignStatus.PAUSED)
    assert client.delete(f"/api/audiences/{audience['id']}").status_code == 409
    campaign.update(status=CampaignStatus.COMPLETED)
    assert client.delete(f"/api/audiences/{audience['id']}").status_code == 204


@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (
            [
                {"field": "visit_count", "operator": ">", "value": 1},
                {"logic": "OR", "rules": [{"field": "name", "operator": "contains", "value": 3}]},
            ],
            "rules[1].rules[0].value",
        ),
        ([{"field": "$where", "operator": "=", "value": "1"}], "rules[0].field"),
        ([{"field": "visit_count", "operator": "=", "value": {"$ne": None}}], "rules[0].value"),
        ([{"field": "visit_count", "operator": "$gt", "value": 1}], "rules[0].operator"),
        ([], "rules"),
    ],
)
def test_bad_rules_are_422_naming_the_rule_path(client, seeded, rules, path):
    for url in ("/api/audience", "/api/audiences/preview"):
        response = client.post(url, json={"rules": rules, "logic": "AND"})
        assert_error(response, 422, "json", path)
    assert client.get("/api/audiences").json == []


def test_rules_must_be_a_list_and_unknown_body_fields_are_rejected(client):
    response = client.post("/api/audiences", json={"rules": "everyone", "colour": 1})
    assert set(assert_error(response, 422)["json"]) == {"rules", "colour"}


def test_fields_lists_operators_and_attribute_keys_in_use(client, seeded):
    catalog = client.get("/api/audiences/fields").json
    by_name = {field["field"]: field for field in catalog["fields"]}
    assert "between" in by_name["total_spends"]["operators"]
    assert by_name["orders.count"]["takes_within_days"] is True
    assert catalog["attributes"] == [
        {"field": "attributes.city", "types": ["string"]},
        {"field": "attributes.vip", "types": ["bool"]},
    ]


def test_unknown_audience_is_404(client):
    assert client.get("/api/audiences/0123456789abcdef01234567").status_code == 404
    assert client.get("/api/audiences/not-an-id").status_code == 404
    assert client.post("/api/audiences/0123456789abcdef01234567/refresh").status_code == 404
