"""Frequency caps: at most N messages per customer in D days across campaigns, also when
campaigns materialise overlapping audiences at the same moment in separate processes."""

import multiprocessing
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, ContactLedger, SendChunk
from crm.documents.contact import Contact
from crm.queue import broker
from crm.services import campaigns
from crm.services.sending import control, materialize
from crm.store import contacts, transaction
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.materialisers import materialise_in_process
from tests.helpers.polling import eventually, wait_until_finished
from workers import sending

WEEKLY_TWICE = {"messages": 2, "days": 7}
EARLIER = ObjectId()  # a campaign sent before


def earlier_contact(at):
    return Contact(at=at, campaign_id=EARLIER)


@pytest.fixture(name="settings")
def capped(settings):
    """The setting's cap: one message per customer per week."""
    return replace(settings, frequency_cap_messages=1, frequency_cap_days=7)


def materialise(campaign_id):
    control.start(ObjectId(campaign_id), lambda _: None)
    while materialize.materialize(ObjectId(campaign_id), 4, lambda *_: "", 60):
        pass
    return {log.customer_id: log for log in CommunicationLog.objects(campaign_id=campaign_id)}


def statuses(logs):
    return Counter(
        f"{log.status}:{log.reason}" if log.reason else log.status for log in logs.values()
    )


def test_the_settings_cap_skips_a_second_campaign_within_the_window(client, app):
    add_customers(client, 5)
    first = materialise(new_campaign(client))
    second = materialise(new_campaign(client))
    assert statuses(first) == {"PENDING": 5}
    assert statuses(second) == {"SKIPPED:frequency_cap": 5}
    assert Campaign.objects.get(id=second["c000"].campaign_id).counts == {"SKIPPED": 5}


def test_a_campaign_may_set_its_own_cap_or_ignore_caps(client, app):
    add_customers(client, 3)
    own = [materialise(new_campaign(client, frequency_cap=WEEKLY_TWICE)) for _ in range(3)]
    assert [statuses(logs) for logs in own] == [
        {"PENDING": 3},
        {"PENDING": 3},
        {"SKIPPED:frequency_cap": 3},
    ]
    ledgers_before = {doc.customer_id: doc.contacts for doc in ContactLedger.objects}

    transactional = materialise(new_campaign(client, ignore_frequency_cap=True))
    assert statuses(transactional) == {"PENDING": 3}
    # Nothing it sends counts towards a cap.
    assert {doc.customer_id: doc.contacts for doc in ContactLedger.objects} == ledgers_before

    shown = client.get(f"/api/campaign/{own[0]['c000'].campaign_id}").json
    assert shown["frequency_cap"] == WEEKLY_TWICE and shown["ignore_frequency_cap"] is False


def test_contacts_older_than_the_window_do_not_count(client, app):
    add_customers(client, 2)
    eight_days_ago = utcnow() - timedelta(days=8)
    ContactLedger(customer_id="c000", contacts=[earlier_contact(eight_days_ago)], version=1).save()
    six_days_ago = utcnow() - timedelta(days=6)
    ContactLedger(customer_id="c001", contacts=[earlier_contact(six_days_ago)], version=1).save()

    logs = materialise(new_campaign(client))

    assert logs["c000"].status == "PENDING"
    assert (logs["c001"].status, logs["c001"].reason) == ("SKIPPED", "frequency_cap")
    assert ContactLedger.objects.get(customer_id="c000").contacts[-1].at > eight_days_ago


def test_the_holdout_is_drawn_from_members_the_cap_allows_and_adds_no_contacts(client, app):
    add_customers(client, 40)
    for n in range(20):  # half the audience was messaged yesterday
        yesterday = earlier_contact(utcnow() - timedelta(days=1))
        ContactLedger(customer_id=f"c{n:03}", contacts=[yesterday]).save()

    logs = materialise(new_campaign(client, holdout_percent=50))

    over_cap = {f"c{n:03}" for n in range(20)}
    assert {cid for cid, log in logs.items() if log.reason == "frequency_cap"} == over_cap
    held_out = {cid for cid, log in logs.items() if log.status == "HELD_OUT"}
    assert held_out and not held_out & over_cap
    contacted = {doc.customer_id for doc in ContactLedger.objects if len(doc.contacts) == 1}
    fresh = {cid for cid in logs if cid not in over_cap}
    assert contacted - over_cap == fresh - held_out


def test_a_cancelled_campaign_gives_back_the_contacts_it_never_sent(client, app):
    add_customers(client, 4)
    campaign_id = materialise(new_campaign(client))["c000"].campaign_id
    assert [len(ledger.contacts) for ledger in ContactLedger.objects] == [1, 1, 1, 1]

    control.cancel(campaign_id, lambda _: None)
    while control.cancel_messages(campaign_id, vendor=None) == control.BATCH:
        pass

    assert {log.status for log in CommunicationLog.objects(campaign_id=campaign_id)} == {
        "CANCELLED"
    }
    assert all(ledger.contacts == [] for ledger in ContactLedger.objects)
    assert statuses(materialise(new_campaign(client))) == {"PENDING": 4}


def test_a_campaign_cap_must_be_whole_and_bounded(client, app):
    add_customers(client, 1)
    audience = client.post(
        "/api/audiences",
        json={"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 0}]},
    ).json["id"]
    body = {"audience_id": audience, "message": "Hi"}
    for cap in ({"messages": 0, "days": 7}, {"messages": 1, "days": 91}, {"messages": 1}):
        assert_error(client.post("/api/campaign", json={**body, "frequency_cap": cap}), 422)
    both = {**body, "frequency_cap": WEEKLY_TWICE, "ignore_frequency_cap": True}
    assert_error(client.post("/api/campaign", json=both), 422, "json", "frequency_cap")
    assert Campaign.objects.count() == 0


def test_two_processes_sending_overlapping_audiences_never_exceed_the_cap(
    client, live, vendor, settings
):
    # Given 60 customers in both campaigns' audiences, and a cap of one a week.
    add_customers(client, 60)
    ids = [new_campaign(client, f"Campaign {n}, {{{{name}}}}") for n in (1, 2)]
    for campaign_id in ids:
        control.start(ObjectId(campaign_id), lambda _: None)

    # When two processes materialise them at the same moment, five members a page.
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(2)
    runs = [
        spawn.Process(target=materialise_in_process, args=(settings, campaign_id, start, 5))
        for campaign_id in ids
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(120)
    assert [run.exitcode for run in runs] == [0, 0]
    # ... and the workers deliver every chunk they made.
    for chunk in SendChunk.objects(campaign_id__in=[ObjectId(i) for i in ids]):
        sending.enqueue_chunk(str(chunk.id))
    finished = [wait_until_finished(client, campaign_id) for campaign_id in ids]

    # Then the vendor got exactly one message per customer, whichever campaign it came from.
    logs = list(CommunicationLog.objects(campaign_id__in=[ObjectId(i) for i in ids]))
    assert len(logs) == 120
    at_vendor: Counter[str] = Counter()
    for log in logs:
        found = requests.get(f"{vendor}/admin/deliveries/{log.id}", timeout=5).json()
        at_vendor[log.customer_id] += found["deliveries"]
    over_cap = [customer for customer, n in at_vendor.items() if n > 1]
    assert over_cap == [] and sum(at_vendor.values()) == 60 and len(at_vendor) == 60
    skipped = [log for log in logs if log.status == "SKIPPED"]
    assert len(skipped) == 60 and {log.reason for log in skipped} == {"frequency_cap"}
    assert sum(campaign["stats"]["skipped"] for campaign in finished) == 60
    for campaign_id in ids:
        assert campaigns.recount(ObjectId(campaign_id), repair=False)["consistent"]


def test_a_ledger_written_since_it_was_read_makes_the_transaction_run_again(app):
    ContactLedger(customer_id="c000", contacts=[], version=3).save()
    attempts = []

    def work(session):
        # The first attempt writes as if it had read an older version, then as if it had
        # read none at all (the ledger made meanwhile); the third reads it afresh.
        stale = [2, 0, None][len(attempts)]
        attempts.append(stale)
        version = (
            stale if stale is not None else contacts.ledgers(["c000"], session)["c000"]["version"]
        )
        contact = {"at": utcnow(), "campaign_id": EARLIER}
        contacts.write_ledgers([("c000", version, [contact])], utcnow(), session)

    transaction.run(work)
    assert attempts == [2, 0, None]
    assert ContactLedger.objects.get(customer_id="c000").version == 4


def test_messages_cancelled_while_their_chunk_is_sent_give_back_their_contacts(
    client, live, vendor
):
    # Given a campaign sending one message a second to 21 customers, cancelled mid-send
    add_customers(client, 21)
    first = new_campaign(client, rate_limit_per_second=1)
    assert client.post("/api/sendCampaign", json={"campaign_id": first}).status_code == 202
    eventually(lambda: requests.get(f"{vendor}/admin/stats", timeout=5).json()["accepted"], 20)
    assert client.post(f"/api/campaign/{first}/cancel").status_code == 200
    eventually(lambda: client.get(f"/api/campaign/{first}").json["stats"]["pending"] == 0, 20)
    first_logs = CommunicationLog.objects(campaign_id=first)
    cancelled = {log.customer_id for log in first_logs if log.status == "CANCELLED"}
    assert cancelled

    # When the next campaign goes to the same customers
    second = new_campaign(client)
    assert client.post("/api/sendCampaign", json={"campaign_id": second}).status_code == 202
    wait_until_finished(client, second)

    # Then only those whose first message was sent are over the cap
    capped = {
        log.customer_id
        for log in CommunicationLog.objects(campaign_id=second)
        if log.reason == "frequency_cap"
    }
    assert capped == {log.customer_id for log in first_logs} - cancelled


def test_messages_the_vendor_never_took_give_back_their_contacts(client, live, vendor):
    # Given a campaign whose vendor refuses every request past the outage budget
    broker.setup(replace(broker.settings(), vendor_outage_budget_seconds=1))
    add_customers(client, 3)
    fault = {"mode": "error_429", "requests": None, "retry_after": 0}
    requests.post(f"{vendor}/admin/faults", json=fault, timeout=5).raise_for_status()
    first = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": first})
    assert wait_until_finished(client, first)["stats"]["failed"] == 3

    # When the vendor is back and the next campaign goes to the same customers
    requests.post(f"{vendor}/admin/faults", json={"mode": "none"}, timeout=5).raise_for_status()
    second = new_campaign(client)
    client.post("/api/sendCampaign", json={"campaign_id": second})
    wait_until_finished(client, second)

    # Then none of them is over the cap: the first campaign never reached them
    logs = CommunicationLog.objects(campaign_id=second)
    assert [log.reason for log in logs if log.reason == "frequency_cap"] == []
