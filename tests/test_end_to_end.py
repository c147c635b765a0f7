"""The seed README's flow over HTTP against the real processes: gunicorn serving the API,
a Dramatiq worker process and the vendor simulator, on the test MongoDB and Redis."""

import pytest
import requests

from tests.helpers.polling import eventually
from tests.helpers.stack import running_stack

pytestmark = pytest.mark.system


@pytest.fixture
def stack(settings, broker, api_key, tmp_path):
    with running_stack(settings, api_key, tmp_path, CRM_VENDOR_SEED="1") as running:
        yield running


def test_seed_flow_end_to_end(stack):
    api, url = stack.api, stack.url
    # Given the seed's customers and orders
    for i in range(40):
        customer = {
            "customer_id": f"cust{i:03}",
            "name": f"Customer {i}",
            "email": f"cust{i}@example.com",
            "total_spends": 500 * i,
            "last_visit_date": "2023-06-12",
            "visit_count": i % 8,
        }
        assert api.post(f"{url}/api/customers", json=customer).status_code == 201
    order = {
        "order_id": "order001",
        "customer_id": "cust001",
        "order_amount": 200,
        "order_date": "2023-01-10",
    }
    assert api.post(f"{url}/api/orders", json=order).status_code == 201

    # When the seed's audience is created and a campaign sent to it
    rules = {
        "rules": [
            {"field": "total_spends", "operator": ">", "value": 1000},
            {"field": "visit_count", "operator": ">=", "value": 4},
        ],
        "logic": "AND",
    }
    audience = api.post(f"{url}/api/audience", json=rules)
    assert audience.status_code == 201, audience.text
    expected = [i for i in range(40) if 500 * i > 1000 and i % 8 >= 4]
    assert audience.json()["size"] == len(expected)

    campaign = api.post(
        f"{url}/api/campaign",
        json={"audience_id": audience.json()["id"], "message": "Hi {{name}}, here's 10% off!"},
    ).json()
    sent = api.post(f"{url}/api/sendCampaign", json={"campaign_id": campaign["id"]})
    assert sent.status_code == 202

    # Then every member gets one message and every log ends SENT or FAILED
    def completed():
        listed = api.get(f"{url}/api/campaign").json()
        return listed if listed[0]["status"] == "COMPLETED" else None

    listed = eventually(completed, timeout=60, interval=0.3)
    stats = listed[0]["stats"]
    assert stats["total"] == stats["sent"] + stats["failed"] == len(expected)
    logs = api.get(f"{url}/api/campaign/{campaign['id']}/logs?page_size=100").json()
    assert sorted(log["customer_id"] for log in logs) == [f"cust{i:03}" for i in expected]
    assert logs[0]["message"].startswith("Hi Customer ")


def test_docs_are_served_offline(stack):
    url = stack.url
    spec = requests.get(f"{url}/openapi.json").json()
    assert "/api/sendCampaign/deliveryReceipt" in spec["paths"]
    page = requests.get(f"{url}/docs").text
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert requests.get(f"{url}/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert requests.get(f"{url}/health").json()["status"] == "ok"
