"""A campaign with a holdout and two variants through the real processes (gunicorn, a
Dramatiq worker process, the vendor simulator), then orders, then its results."""

from datetime import UTC, datetime

import pytest
import requests

from tests.helpers.polling import eventually
from tests.helpers.stack import running_stack

pytestmark = pytest.mark.system


@pytest.fixture
def stack(settings, broker, api_key, tmp_path):
    with running_stack(settings, api_key, tmp_path, CRM_VENDOR_SEED="1") as running:
        yield running


def test_held_out_members_reach_no_vendor_and_orders_are_attributed(stack):
    url, vendor, api = stack.url, stack.vendor, stack.api
    # Given 60 customers and a campaign holding out 30% of them, with two variants
    for i in range(60):
        customer = {"customer_id": f"c{i:02}", "name": f"N{i}", "email": f"c{i}@example.com"}
        assert api.post(f"{url}/api/customers", json=customer).status_code == 201
    rules = {"rules": [{"field": "visit_count", "operator": ">=", "value": 0}], "logic": "AND"}
    audience = api.post(f"{url}/api/audiences", json=rules).json()
    body = {
        "audience_id": audience["id"],
        "message": "Hi {{name}}",
        "holdout_percent": 30,
        "variants": [{"message": "Hi {{name}}"}, {"message": "Hello {{name}}"}],
    }
    campaign = api.post(f"{url}/api/campaign", json=body).json()

    # When it is sent
    assert api.post(f"{url}/api/sendCampaign", json={"campaign_id": campaign["id"]}).ok

    def completed():
        found = api.get(f"{url}/api/campaign/{campaign['id']}").json()
        return found if found["status"] == "COMPLETED" else None

    stats = eventually(completed, timeout=60, interval=0.3)["stats"]
    logs = api.get(f"{url}/api/campaign/{campaign['id']}/logs?page_size=100").json()

    # Then the vendor got one message per messaged member and none for the held out
    held_out = [log for log in logs if log["status"] == "HELD_OUT"]
    assert 0 < len(held_out) == stats["held_out"] < 60
    assert stats["sent"] + stats["failed"] + stats["held_out"] == 60
    at_vendor = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert (
        at_vendor["deliveries"] == 60 - len(held_out) and at_vendor["max_deliveries_per_key"] == 1
    )
    for log in held_out:
        assert (
            requests.get(f"{vendor}/admin/deliveries/{log['id']}", timeout=5).json()["deliveries"]
            == 0
        )

    # And orders placed today by some members are attributed to the messaged ones only
    today = datetime.now(UTC).date().isoformat()
    sent = [log for log in logs if log["status"] == "SENT"]
    buyers = sent[:5] + held_out[:3]
    for n, log in enumerate(buyers):
        order = {
            "order_id": f"o{n}",
            "customer_id": log["customer_id"],
            "order_amount": 10 + n,
            "order_date": today,
        }
        assert api.post(f"{url}/api/orders", json=order).status_code == 201
    results = api.get(f"{url}/api/campaign/{campaign['id']}/results").json()
    assert results["messaged"]["members"] == len(sent)
    assert results["messaged"]["conversions"] == 5
    assert results["messaged"]["revenue"] == sum(10 + n for n in range(5))
    assert results["holdout"]["members"] == len(held_out)
    assert results["holdout"]["window_conversions"] == min(3, len(held_out))
    by_variant = {v["name"]: v["messaged"]["conversions"] for v in results["variants"]}
    assert sum(by_variant.values()) == 5
