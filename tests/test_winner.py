"""An automatic winner: only the test share is sent before the decision; then the variant
with the better metric, chosen once whoever runs the decision, goes to everyone else
exactly once."""

import json
import re
import threading
from collections import Counter
from datetime import UTC, timedelta

import pytest
import requests
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Audience, Campaign, CommunicationLog, ContactLedger, SendChunk
from crm.documents.schedule import CampaignSchedule
from crm.services import users
from crm.services.sending import control, materialize, sweeps, winner
from tests.helpers.database import database_contents
from tests.helpers.factories import EVERYONE, add_customers, new_campaign
from tests.helpers.http import assert_error, console_sign_in, csrf_token
from tests.helpers.polling import eventually, wait_until_finished

VARIANTS = [{"message": "A for {{name}}"}, {"message": "B for {{name}}"}]


def _winner(test_percent=50, metric="conversion_rate"):
    return {"test_percent": test_percent, "decide_after_minutes": 10, "metric": metric}


def _statuses(campaign_id):
    return Counter(log.status.value for log in CommunicationLog.objects(campaign_id=campaign_id))


def _test_share_settled(client, campaign_id):
    campaign = client.get(f"/api/campaign/{campaign_id}").json
    stats = campaign["stats"]
    materialised = Campaign.objects.get(id=campaign_id).materialized
    return materialised and stats["pending"] == stats["accepted"] == 0 and campaign


def _delayed(broker, queue_name):
    """The messages waiting in a queue's delay queue (or taken from it by a worker)."""
    raw = broker.client.hvals(f"dramatiq:{queue_name}.DQ.msgs")
    return [json.loads(message) for message in raw]


def test_only_the_test_share_is_sent_then_the_better_variant_goes_to_the_rest(
    client, live, vendor, broker
):
    # Given 60 customers and a campaign testing A and B on half of them, 10% held out
    add_customers(client, 60)
    campaign_id = new_campaign(
        client, variants=VARIANTS, holdout_percent=10, winner=_winner(test_percent=50)
    )
    client.post("/api/sendCampaign", json={"campaign_id": campaign_id})

    # When the test share has been sent, the rest wait: the vendor has only the test share
    campaign = eventually(lambda: _test_share_settled(client, campaign_id), 30, 0.1)
    assert campaign["status"] == "SENDING"
    logs = list(CommunicationLog.objects(campaign_id=campaign_id))
    waiting = [log for log in logs if log.status == "WAITING"]
    tested = [log for log in logs if log.variant]
    assert 0 < len(waiting) < 60 and {log.variant for log in tested} == {"A", "B"}
    assert campaign["stats"]["waiting"] == len(waiting)
    assert len(tested) + len(waiting) + campaign["stats"]["held_out"] == 60
    at_vendor = requests.get(f"{vendor}/admin/stats", timeout=5).json()
    assert at_vendor["deliveries"] == len(tested)
    for log in waiting:
        found = requests.get(f"{vendor}/admin/deliveries/{log.id}", timeout=5).json()
        assert found["deliveries"] == 0

    # And B is known to be better: every B member of the test share who got it orders
    converted = [log for log in tested if log.variant == "B" and log.status == "SENT"]
    for n, log in enumerate(converted):
        order = {
            "order_id": f"o{n}",
            "customer_id": log.customer_id,
            "order_amount": "10.00",
            "order_date": utcnow().date().isoformat(),
        }
        assert client.post("/api/orders", json=order).status_code == 201
    started_at = Campaign.objects.get(id=campaign_id).started_at
    # And a delayed message will decide at its time, 10 minutes after the start
    [decision] = [m for m in _delayed(broker, "campaigns") if m["actor_name"] == "choose_winner"]
    decide_at = started_at.replace(tzinfo=UTC) + timedelta(minutes=10)
    assert decision["args"] == [campaign_id]
    assert abs(decision["options"]["eta"] / 1000 - decide_at.timestamp()) < 5

    # When the decision step runs before its time, nothing is chosen or sent
    assert not winner.step(ObjectId(campaign_id), started_at + timedelta(minutes=9), 7, None, 30)
    assert Campaign.objects.get(id=campaign_id).winner.chosen is None

    # When it runs at its time
    from workers import sending

    decided = started_at + timedelta(minutes=10)
    assert not winner.step(ObjectId(campaign_id), decided, 7, sending.enqueue_chunk, 30)
    campaign = wait_until_finished(client, campaign_id)

    # Then B won, on the figures recorded, and every waiting member got B's message once
    chosen = campaign["winner"]
    assert chosen["chosen"] == "B" and chosen["decided_at"].startswith(decided.isoformat()[:19])
    figures = {row["name"]: row for row in chosen["figures"]}
    assert figures["B"]["successes"] == len(converted) > 0 and figures["A"]["successes"] == 0
    assert figures["B"]["rate"] == 1.0 and figures["A"]["rate"] == 0.0
    after = {log.id: log for log in CommunicationLog.objects(campaign_id=campaign_id)}
    assert len(after) == 60 and len({log.customer_id for log in after.values()}) == 60
    for log in waiting:
        released = after[log.id]
        assert released.variant == "B" and released.status in ("SENT", "FAILED")
        assert released.message == f"B for Name{int(log.customer_id[1:])}"
    messaged = [log for log in after.values() if log.status in ("SENT", "FAILED")]
    assert len(messaged) == len(tested) + len(waiting)
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["deliveries"] == len(messaged)
    for log in messaged:
        found = requests.get(f"{vendor}/admin/deliveries/{log.id}", timeout=5).json()
        assert found["deliveries"] == 1
    assert campaign["stats"]["waiting"] == 0
    assert client.post(f"/api/campaign/{campaign_id}/recount").json["consistent"]


def _materialised(client, customers=40, **fields):
    add_customers(client, customers)
    campaign_id = ObjectId(new_campaign(client, variants=VARIANTS, winner=_winner(), **fields))
    control.start(campaign_id, lambda _: None)
    while materialize.materialize(campaign_id, 7, lambda *_: None, 0):
        pass
    return Campaign.objects.get(id=campaign_id)


def test_the_winner_is_chosen_once_and_each_waiting_member_released_once(client):
    campaign = _materialised(client)
    waiting = {
        log.id for log in CommunicationLog.objects(campaign_id=campaign.id, status="WAITING")
    }
    assert waiting
    due = campaign.started_at + timedelta(minutes=10)

    # Two workers decide at once (their clocks a second apart): one of them chooses
    barrier = threading.Barrier(2)
    chose = []

    def decide(now):
        barrier.wait()
        chose.append((winner.decide(Campaign.objects.get(id=campaign.id), now), now))

    threads = [threading.Thread(target=decide, args=(due + timedelta(seconds=s),)) for s in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(made for made, _ in chose) == [False, True]
    decided = Campaign.objects.get(id=campaign.id).winner
    assert decided.chosen == "A"  # no figures yet on either: the tie goes to the earliest
    assert decided.decided_at == next(now for made, now in chose if made)
    assert not winner.decide(Campaign.objects.get(id=campaign.id), due + timedelta(hours=1))

    # Two workers then release at once, three members a page: each member once
    handed = []
    barrier = threading.Barrier(2)

    def release():
        barrier.wait()
        while winner.step(campaign.id, due, 3, lambda chunk_id, _: handed.append(chunk_id), 0):
            pass

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    chunks = list(SendChunk.objects(campaign_id=campaign.id))
    released = [i for chunk in chunks if str(chunk.id) in handed for i in chunk.log_ids]
    assert sorted(released) == sorted(waiting)
    assert Counter(handed).most_common(1)[0][1] == 1
    assert {log.variant for log in CommunicationLog.objects(id__in=list(waiting))} == {"A"}
    assert _statuses(campaign.id)["WAITING"] == 0
    assert client.post(f"/api/campaign/{campaign.id}/recount").json["consistent"]
    assert Campaign.objects.get(id=campaign.id).winner.released


def test_waiting_members_whose_local_time_passed_meanwhile_are_skipped_not_sent_late(client):
    campaign = _materialised(client, customers=20)
    waiting = {
        log.id for log in CommunicationLog.objects(campaign_id=campaign.id, status="WAITING")
    }
    assert waiting
    # Its local send time (yesterday's 10:00 in each zone) passed while they waited.
    yesterday = campaign.started_at.replace(hour=0, minute=0, second=0) - timedelta(days=1)
    Campaign.objects(id=campaign.id).update(
        set__schedule=CampaignSchedule(
            send_date=yesterday, local_send_time="10:00", timezone="UTC", late_limit_seconds=3600
        )
    )

    due = campaign.started_at + timedelta(minutes=10)
    while winner.step(campaign.id, due, 7, lambda *_: "queued", 0):
        pass

    released = CommunicationLog.objects(id__in=list(waiting))
    assert {(log.status, log.reason) for log in released} == {("SKIPPED", "local_time_passed")}
    assert client.post(f"/api/campaign/{campaign.id}/recount").json["consistent"]


def test_a_paused_campaign_waits_and_a_cancelled_one_cancels_its_waiting_members(client):
    campaign = _materialised(client, customers=20, frequency_cap={"messages": 1, "days": 7})
    due = campaign.started_at + timedelta(minutes=10)
    assert _statuses(campaign.id)["WAITING"] > 0
    assert sum(len(ledger.contacts) for ledger in ContactLedger.objects) == 20

    control.pause(campaign.id)
    assert not winner.step(campaign.id, due, 7, None, 30)
    assert Campaign.objects.get(id=campaign.id).winner.chosen is None

    control.cancel(campaign.id, lambda _: None)
    while control.cancel_messages(campaign.id, None) == control.BATCH:
        pass
    assert _statuses(campaign.id) == {"CANCELLED": 20}
    assert Campaign.objects.get(id=campaign.id).counts["WAITING"] == 0
    # None of them was sent: none counts towards the frequency cap.
    assert sum(len(ledger.contacts) for ledger in ContactLedger.objects) == 0
    assert client.post(f"/api/campaign/{campaign.id}/recount").json["consistent"]


def test_the_sweep_hands_out_a_due_winner_unless_a_worker_is_at_it(client):
    campaign = _materialised(client)
    idle_for = timedelta(minutes=5)
    handed = []

    def sweep():
        return sweeps.winners_due(utcnow(), idle_for, handed.append)

    assert sweep() == 0  # not yet due
    # As if it started and was materialised 11 minutes ago, its decision 1 minute due
    long_ago = utcnow() - timedelta(minutes=11)
    Campaign.objects(id=campaign.id).update(set__started_at=long_ago, set__heartbeat_at=long_ago)
    assert sweep() == 1 and handed == [str(campaign.id)]

    # A worker has chosen and sent the first page: the sweep leaves it alone...
    assert winner.step(campaign.id, utcnow(), 3, lambda *_: None, 0)
    assert sweep() == 0
    # ...until that worker has been silent for idle_for
    Campaign.objects(id=campaign.id).update(set__heartbeat_at=long_ago)
    assert sweep() == 1
    while winner.step(campaign.id, utcnow(), 3, lambda *_: None, 0):
        pass
    assert sweep() == 0 and len(handed) == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"winner": _winner()}, "winner"),
        ({"variants": VARIANTS[:1], "winner": _winner()}, "winner"),
        ({"variants": VARIANTS, "winner": _winner(test_percent=4)}, "winner"),
        ({"variants": VARIANTS, "winner": _winner(test_percent=51)}, "winner"),
        ({"variants": VARIANTS, "winner": {**_winner(), "decide_after_minutes": 9}}, "winner"),
        ({"variants": VARIANTS, "winner": {**_winner(), "decide_after_minutes": 10081}}, "winner"),
        ({"variants": VARIANTS, "winner": _winner(metric="revenue")}, "winner"),
        ({"variants": VARIANTS, "winner": {"test_percent": 10}}, "winner"),
        ({"variants": VARIANTS, "winner": {**_winner(), "chosen": "B"}}, "winner"),
    ],
)
def test_bad_winner_options_are_422_at_their_field_and_write_nothing(client, fields, field):
    audience = Audience(rules=EVERYONE).save()
    client.get("/api/customers")  # the key's last_used_at is written once, now
    before = database_contents()
    body = {"audience_id": str(audience.id), "message": "Hi", **fields}
    errors = assert_error(client.post("/api/campaign", json=body), 422, "json", field)
    assert errors["json"][field]
    assert database_contents() == before


def test_the_composer_sets_a_winner_and_the_console_says_when_and_which_won(app):
    _, password = users.create("mo@example.com", "marketer", temporary=False)
    console = app.test_client()
    assert console_sign_in(console, "mo@example.com", password).status_code == 302
    audience = Audience(rules=EVERYONE).save()
    composer = console.get("/app/campaigns/new", follow_redirects=True).get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(composer),
        "form_key": re.search(r'name="form_key" value="([0-9a-f]{24})"', composer)[1],
        "audience_id": str(audience.id),
        "message": "A",
        "variants.1.message": "B",
        "winner.metric": "delivered_rate",
        "winner.test_percent": "20",
        "winner.decide_after_minutes": "3",
        "action": "draft",
    }

    # A bad option comes back next to its input, and nothing is made
    refused = console.post("/app/campaigns", data=form)
    assert refused.status_code == 422 and Campaign.objects.count() == 0
    shown = refused.get_data(as_text=True)
    assert re.search(r'name="winner.decide_after_minutes"[^>]*value="3"[^>]*is-invalid', shown)
    assert "greater than or equal to 10" in shown

    # A good one makes a campaign whose page says when the winner will be chosen
    saved = console.post("/app/campaigns", data={**form, "winner.decide_after_minutes": "60"})
    campaign = Campaign.objects.get()
    assert saved.status_code == 302 and campaign.winner.metric == "delivered_rate"
    page = console.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)
    assert "the one with the best delivered rate is chosen 60 min after the start" in page

    # Once chosen, the page and the results say which won and on what figures
    figures = [
        {"name": "A", "members": 10, "successes": 7, "rate": 0.7},
        {"name": "B", "members": 10, "successes": 9, "rate": 0.9},
    ]
    Campaign.objects(id=campaign.id).update(
        set__winner__chosen="B", set__winner__decided_at=utcnow(), set__winner__figures=figures
    )
    said = (
        "Variant B won on delivered rate in the 20% test share "
        "(A 70.0% (7 of 10); B 90.0% (9 of 10))"
    )
    assert said in console.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)
    assert said in console.get(f"/app/campaigns/{campaign.id}/results").get_data(as_text=True)
