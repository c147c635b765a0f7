"""Building blocks shared by the campaign tests."""

import time

from crm.documents import Audience, Campaign, CampaignStatus

EVERYONE = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}


def add_customers(client, count):
    for i in range(count):
        body = {"customer_id": f"c{i:03}", "name": f"Name{i}", "email": f"c{i}@example.com"}
        assert client.post("/api/customers", json=body).status_code == 201


def new_campaign(client, message="Hi {{name}}, here's 10% off on your next order!"):
    audience = Audience(rules=EVERYONE).save()
    response = client.post(
        "/api/campaign", json={"audience_id": str(audience.id), "message": message}
    )
    assert response.status_code == 201, response.json
    return response.json["id"]


def wait_until_finished(client, campaign_id, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        campaign = client.get(f"/api/campaign/{campaign_id}").json
        if campaign["status"] == "COMPLETED":
            return campaign
        time.sleep(0.2)
    raise AssertionError(f"campaign still {campaign['status']}: {campaign['stats']}")


def sending_campaign(**fields):
    """A SENDING campaign whose audience is materialised; the test adds its logs."""
    audience = Audience(rules=EVERYONE).save()
    return Campaign(
        audience_id=audience.id,
        message="Hi",
        status=CampaignStatus.SENDING,
        materialized=True,
        **fields,
    ).save()


def eventually(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
