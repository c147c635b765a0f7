"""Holdout and variants: a deterministic split within binomial bounds, made when the
audience is materialised, and a vendor that never hears of a held-out member."""

import math
import random
from collections import Counter

import pytest
import requests
from bson import ObjectId

from crm.documents import Audience, Campaign, CommunicationLog, SendChunk
from crm.documents.campaign import Variant
from crm.services.sending import assignment, control, materialize
from tests.helpers.database import database_contents
from tests.helpers.factories import EVERYONE, add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.polling import wait_until_finished

Z_999 = 3.2905  # two-sided 99.9%


def _within_binomial_bounds(count, n, p):
    spread = Z_999 * math.sqrt(n * p * (1 - p))
    return n * p - spread <= count <= n * p + spread


def _campaign(holdout_percent=0.0, weights=(), number=1):
    """A campaign with a fixed id, so that each draw checked here is reproducible."""
    variants = [Variant(name="ABCD"[i], message=f"V{i}", weight=w) for i, w in enumerate(weights)]
    campaign_id = ObjectId(f"{number:024x}")
    return Campaign(id=campaign_id, holdout_percent=holdout_percent, variants=variants)


CUSTOMERS = [f"cust{i:05}" for i in range(5000)]


def test_ten_percent_of_5000_are_held_out_within_a_999_interval_and_always_the_same():
    campaign = _campaign(holdout_percent=10)
    held_out = {c for c in CUSTOMERS if assignment.assign(campaign, c).held_out}
    assert _within_binomial_bounds(len(held_out), 5000, 0.10), len(held_out)
    shuffled = random.Random(1).sample(CUSTOMERS, len(CUSTOMERS))
    assert {c for c in shuffled if assignment.assign(campaign, c).held_out} == held_out
    other = _campaign(holdout_percent=10, number=2)  # another campaign draws another control group
    assert {c for c in CUSTOMERS if assignment.assign(other, c).held_out} != held_out


@pytest.mark.parametrize("weights", [(1, 1), (1, 1, 2), (1, 2, 3, 4)])
def test_variants_split_in_proportion_to_their_weights(weights):
    campaign = _campaign(holdout_percent=20, weights=weights)
    arms = [assignment.assign(campaign, c) for c in CUSTOMERS]
    messaged = [arm for arm in arms if not arm.held_out]
    assert all(arm.variant is None and arm.message == "" for arm in arms if arm.held_out)
    split = Counter(arm.variant for arm in messaged)
    for index, weight in enumerate(weights):
        share = weight / sum(weights)
        assert _within_binomial_bounds(split["ABCD"[index]], len(messaged), share), split
        assert {arm.message for arm in messaged if arm.variant == "ABCD"[index]} == {f"V{index}"}


def test_the_holdout_draw_is_independent_of_the_variant_draw():
    campaign = _campaign(holdout_percent=50, weights=(1, 1))
    # Among members the holdout draw would keep, the variant draw still splits evenly.
    draws = [
        (
            assignment.uniform(campaign.id, "holdout", c) < 0.5,
            assignment.uniform(campaign.id, "variant", c) < 0.5,
        )
        for c in CUSTOMERS
    ]
    both = sum(1 for held, first in draws if held and first)
    assert _within_binomial_bounds(both, 5000, 0.25), both


def test_materialising_holds_out_members_without_putting_them_in_chunks(client, app):
    add_customers(client, 60)
    campaign_id = ObjectId(
        new_campaign(
            client,
            "Hi {{name}}",
            holdout_percent=30,
            variants=[{"message": "A {{name}}"}, {"message": "B"}],
        )
    )
    control.start(campaign_id, lambda _: None)
    while materialize.materialize(campaign_id, 7, lambda *_: None, 0):
        pass

    campaign = Campaign.objects.get(id=campaign_id)
    logs = list(CommunicationLog.objects(campaign_id=campaign_id))
    held_out = {log.customer_id for log in logs if log.status == "HELD_OUT"}
    assert held_out == {
        log.customer_id for log in logs if assignment.assign(campaign, log.customer_id).held_out
    }
    assert 0 < len(held_out) < 60
    in_chunks = {i for chunk in SendChunk.objects(campaign_id=campaign_id) for i in chunk.log_ids}
    assert in_chunks == {log.id for log in logs if log.status == "PENDING"}
    assert dict(campaign.counts) == {"PENDING": 60 - len(held_out), "HELD_OUT": len(held_out)}
    assert client.post(f"/api/campaign/{campaign_id}/recount").json["consistent"]
    for log in logs:
        expected = {"A": f"A Name{int(log.customer_id[1:])}", "B": "B", None: ""}[log.variant]
        assert log.message == expected


def test_a_campaign_with_a_holdout_sends_nothing_to_held_out_members(client, live, vendor):
    # Given 80 customers and a campaign holding out 25% with two variants
    add_customers(client, 80)
    campaign_id = new_campaign(
        client, holdout_percent=25, variants=[{"message": "A"}, {"message": "B", "weight": 3}]
    )
    # When it is sent through the worker to the vendor simulator
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
    campaign = wait_until_finished(client, campaign_id)

    # Then the vendor got exactly the messaged members, none of the held-out ones
    logs = list(CommunicationLog.objects(campaign_id=campaign_id))
    held_out = [log for log in logs if log.status == "HELD_OUT"]
    stats = campaign["stats"]
    assert 0 < stats["held_out"] == len(held_out) < 80
    assert stats["sent"] + stats["failed"] + stats["held_out"] == 80 == stats["total"]
    assert campaign["progress"]["done"] == campaign["progress"]["total"] == 80
    at_vendor = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert at_vendor["deliveries"] == 80 - len(held_out)
    for log in held_out:
        found = requests.get(f"{vendor}/admin/deliveries/{log.id}", timeout=5).json()
        assert found["deliveries"] == 0
    # And each variant's delivery is counted in the results
    results = client.get(f"/api/campaign/{campaign_id}/results").json
    assert results["holdout"]["members"] == len(held_out)
    delivered = {v["name"]: v["delivery"] for v in results["variants"]}
    for name in "AB":
        assert sum(delivered[name].values()) == sum(1 for log in logs if log.variant == name)
    assert all(log.accepted_at for log in logs if log.status == "SENT")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"holdout_percent": 51}, "holdout_percent"),
        ({"holdout_percent": -1}, "holdout_percent"),
        ({"variants": [{"message": "x"}] * 5}, "variants"),
        ({"variants": [{"message": "x", "weight": 0}]}, "variants"),
        ({"variants": [{"message": "ok"}, {"message": "{{ unknown }}"}]}, "variants"),
        ({"variants": [{"message": "{% if %}"}]}, "variants"),
        ({"attribution_window_days": 0}, "attribution_window_days"),
        ({"attribution_window_days": 91}, "attribution_window_days"),
    ],
)
def test_bad_settings_are_422_at_their_field_and_write_nothing(client, fields, field):
    audience = Audience(rules=EVERYONE).save()
    client.get("/api/customers")  # the key's last_used_at is written once, now
    before = database_contents()
    body = {"audience_id": str(audience.id), "message": "Hi", **fields}
    assert_error(client.post("/api/campaign", json=body), 422, "json", field)
    assert database_contents() == before
