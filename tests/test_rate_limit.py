"""The per-campaign send rate, shared through Redis by every worker process."""

import time

import redis
import requests

from crm.documents import Audience
from crm.queue.rate_limit import RateLimit
from tests.helpers.factories import EVERYONE, add_customers
from tests.helpers.polling import wait_until_finished


def at_start_of_a_window():
    time.sleep(1 - time.time() % 1 + 0.01)


def test_permits_are_shared_across_clients_within_a_second(broker):
    url = broker.client.connection_pool.connection_kwargs
    other_process = redis.Redis(host=url["host"], port=url["port"])
    first = RateLimit(broker.client, "campaign:x", per_second=10)
    second = RateLimit(other_process, "campaign:x", per_second=10)
    at_start_of_a_window()
    assert first.try_take(6) == 6
    assert second.try_take(6) == 4  # only what is left of this second's 10
    assert first.try_take(1) == 0
    other_process.close()


def test_take_waits_for_the_next_window(broker):
    limit = RateLimit(broker.client, "campaign:y", per_second=3)
    at_start_of_a_window()
    assert limit.take(3) == 3
    started = int(time.time())
    assert limit.take(2) == 2
    assert int(time.time()) > started


def test_rate_limited_campaign_sends_small_batches(client, live, vendor):
    add_customers(client, 12)
    audience = Audience(rules=EVERYONE).save()
    body = {"audience_id": str(audience.id), "message": "Hi", "rate_limit_per_second": 5}
    campaign = client.post("/api/campaign", json=body).json
    assert campaign["rate_limit_per_second"] == 5
    client.post("/api/sendCampaign", json={"campaign_id": campaign["id"]})
    done = wait_until_finished(client, campaign["id"])
    assert done["stats"]["sent"] + done["stats"]["failed"] == 12
    # 12 messages in chunks of 7 at 5 a second: no vendor request carried more than 5.
    seen = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert seen["largest_batch"] <= 5 and seen["messages"] >= 12
    assert seen["requests"] >= 3
