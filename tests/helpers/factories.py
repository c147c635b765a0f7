"""Documents as the product makes them, for tests that start in the middle of a flow."""

from collections import Counter

from crm.documents import Audience, Campaign, CampaignStatus, CommunicationLog
from crm.store import campaigns, transaction

EVERYONE = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]}


def add_customers(client, count):
    for i in range(count):
        body = {"customer_id": f"c{i:03}", "name": f"Name{i}", "email": f"c{i}@example.com"}
        assert client.post("/api/customers", json=body).status_code == 201


def new_campaign(client, message="Hi {{name}}, here's 10% off on your next order!", **fields):
    audience = Audience(rules=EVERYONE).save()
    body = {"audience_id": str(audience.id), "message": message, **fields}
    response = client.post("/api/campaign", json=body)
    assert response.status_code == 201, response.json
    return response.json["id"]


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


def counted_log(campaign, status, customer_id="c1", **fields):
    """A log counted in its campaign's counts, as materialising and moves keep them."""
    log = CommunicationLog(
        campaign_id=campaign.id,
        customer_id=customer_id,
        to=f"{customer_id}@example.com",
        message="Hi",
        status=status,
        **fields,
    ).save()
    transaction.run(
        lambda session: campaigns.add_counts(campaign.id, Counter({str(status): 1}), session)
    )
    return log
