"""Opt-outs, the signed unsubscribe link and the suppression list: members a campaign must
not reach get SKIPPED logs, and the vendor never hears of them."""

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, ContactLedger, Customer, SendChunk
from crm.services import campaigns
from crm.services.sending import control, materialize
from tests.helpers.factories import add_customers, new_campaign
from tests.helpers.http import assert_error
from tests.helpers.ingestion import upload, wait_for
from tests.helpers.polling import wait_until_finished
from workers import sending

LINKED = "Hi {{name}}. Unsubscribe: {{ unsubscribe_url }}"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def materialise(campaign_id):
    control.start(campaign_id, lambda _: None)
    while materialize.materialize(campaign_id, 5, lambda *_: "", 60):
        pass


def link_of(campaign_id, customer_id):
    message = CommunicationLog.objects.get(campaign_id=campaign_id, customer_id=customer_id).message
    return urlsplit(message.split("Unsubscribe: ")[1]).path


def customer_document(customer_id):
    return Customer._get_collection().find_one({"customer_id": customer_id}, {"_id": 0})


def test_the_signed_link_asks_on_get_and_opts_out_on_one_click_post(client, anonymous):
    add_customers(client, 2)
    campaign_id = ObjectId(new_campaign(client, LINKED))
    materialise(campaign_id)
    path = link_of(campaign_id, "c001")
    assert path.startswith(f"/unsubscribe/{campaign_id}/c001/")

    # Given a mail scanner that fetches the link: a page with a button, nothing changed.
    page = anonymous.get(path)
    assert page.status_code == 200 and b'method="post"' in page.data
    assert not customer_document("c001").get("opted_out")

    # When the mail client posts RFC 8058's one-click body, without any API key.
    done = anonymous.post(path, data=ONE_CLICK)
    assert done.status_code == 200
    assert customer_document("c001")["opted_out"] is True
    assert client.get("/api/customers/c001").json["opted_out"] is True
    assert client.get("/api/customers/c000").json["opted_out"] is False

    # Then a repeat changes nothing more.
    before = customer_document("c001")
    assert anonymous.post(path, data=ONE_CLICK).status_code == 200
    assert customer_document("c001") == before


@pytest.mark.parametrize(
    "tamper",
    [
        lambda campaign, customer, sig: (campaign, "c000", sig),  # another customer
        lambda campaign, customer, sig: (str(ObjectId()), customer, sig),  # another campaign
        lambda campaign, customer, sig: (
            campaign,
            customer,
            sig[:-1] + ("A" if sig[-1] != "A" else "B"),
        ),
        lambda campaign, customer, sig: (campaign, customer, ""),
        lambda campaign, customer, sig: (campaign, customer, "x" * 43),
    ],
)
def test_a_tampered_or_forged_link_is_refused_and_changes_nothing(client, anonymous, tamper):
    add_customers(client, 2)
    campaign_id = ObjectId(new_campaign(client, LINKED))
    materialise(campaign_id)
    _, _, campaign, customer, signature = link_of(campaign_id, "c001").split("/")
    forged = "/unsubscribe/" + "/".join(tamper(campaign, customer, signature))
    before = [customer_document(c) for c in ("c000", "c001")]

    assert anonymous.get(forged).status_code == 404
    assert anonymous.post(forged, data=ONE_CLICK).status_code == 404

    assert [customer_document(c) for c in ("c000", "c001")] == before


def test_opt_out_by_patch_and_by_import_column_and_back_in(client, worker):
    add_customers(client, 3)
    response = client.patch("/api/customers/c000", json={"opted_out": True})
    assert response.status_code == 200 and response.json["opted_out"] is True

    csv = (
        "customer_id,name,email,opted_out\n"
        "c001,Name1,c1@example.com,true\n"
        "c002,Name2,c2@example.com,false\n"
    )
    job = wait_for(client, upload(client, "customers", csv, "text/csv"))
    assert job["status"] == "DONE" and job["counts"]["rejected"] == 0
    assert [client.get(f"/api/customers/c00{i}").json["opted_out"] for i in range(3)] == [
        True,
        True,
        False,
    ]

    assert client.patch("/api/customers/c000", json={"opted_out": False}).json["opted_out"] is False
    assert customer_document("c000")["opted_out"] is False


def test_patch_refuses_bad_input_and_unknown_customers(client):
    add_customers(client, 1)
    before = customer_document("c000")
    assert_error(client.patch("/api/customers/c000", json={}), 422, "json", "_schema")
    assert_error(
        client.patch("/api/customers/c000", json={"opted_out": "maybe"}), 422, "json", "opted_out"
    )
    assert_error(
        client.patch("/api/customers/c000", json={"customer_id": "c9"}), 422, "json", "customer_id"
    )
    assert_error(client.patch("/api/customers/nobody", json={"opted_out": True}), 404)
    assert customer_document("c000") == before


def test_suppressions_are_normalised_listed_paged_and_removed(client):
    added = client.post(
        "/api/suppressions", json={"address": " Ann@Example.COM ", "reason": "bounced"}
    )
    assert added.status_code == 201 and added.json["address"] == "ann@example.com"
    again = client.post("/api/suppressions", json={"address": "ann@example.com"})
    assert again.status_code == 200 and again.json["reason"] == "bounced"

    bulk = client.post(
        "/api/suppressions/bulk",
        json={"addresses": ["b@example.com", "B@example.com", "ann@example.com", "c@example.com"]},
    )
    assert bulk.status_code == 200 and bulk.json == {"received": 3, "added": 2}

    first = client.get("/api/suppressions?page_size=2")
    assert [s["address"] for s in first.json] == ["ann@example.com", "b@example.com"]
    rest = client.get(first.headers["Link"].split(">")[0].lstrip("<"))
    assert [s["address"] for s in rest.json] == ["c@example.com"] and "Link" not in rest.headers

    assert client.get("/api/suppressions/ANN@example.com").json["address"] == "ann@example.com"
    assert client.delete("/api/suppressions/Ann@Example.com").status_code == 204
    assert_error(client.get("/api/suppressions/ann@example.com"), 404)
    assert_error(client.delete("/api/suppressions/ann@example.com"), 404)
    assert_error(
        client.post("/api/suppressions", json={"address": "not an address"}), 422, "json", "address"
    )
    assert_error(
        client.post("/api/suppressions/bulk", json={"addresses": []}), 422, "json", "addresses"
    )
    assert [s["address"] for s in client.get("/api/suppressions").json] == [
        "b@example.com",
        "c@example.com",
    ]


def test_opted_out_and_suppressed_members_are_skipped_and_never_reach_the_vendor(
    client, live, vendor
):
    # Given 10 customers, two opted out and two suppressed (one in another case).
    add_customers(client, 10)
    client.patch("/api/customers/c001", json={"opted_out": True})
    client.patch("/api/customers/c002", json={"opted_out": True})
    client.post("/api/suppressions", json={"address": "C3@Example.com"})
    client.post("/api/suppressions/bulk", json={"addresses": ["c4@example.com"]})
    campaign_id = new_campaign(client)

    # When the campaign is sent through the workers to the vendor.
    assert client.post("/api/sendCampaign", json={"campaign_id": campaign_id}).status_code == 202
    campaign = wait_until_finished(client, campaign_id)

    # Then the four are SKIPPED with their reason, counted, and the vendor got only the six.
    logs = {log.customer_id: log for log in CommunicationLog.objects(campaign_id=campaign_id)}
    skipped = {cid: log.reason for cid, log in logs.items() if log.status == "SKIPPED"}
    assert skipped == {
        "c001": "opted_out",
        "c002": "opted_out",
        "c003": "suppressed",
        "c004": "suppressed",
    }
    assert campaign["stats"]["skipped"] == 4 and campaign["stats"]["total"] == 10
    assert campaign["progress"]["done"] == 10
    assert campaigns.recount(ObjectId(campaign_id), repair=False)["consistent"]
    delivered = {
        cid: requests.get(f"{vendor}/admin/deliveries/{log.id}", timeout=5).json()["deliveries"]
        for cid, log in logs.items()
    }
    assert {cid for cid, n in delivered.items() if n} == set(logs) - set(skipped)
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["deliveries"] == 6
    skipped_page = client.get(f"/api/campaign/{campaign_id}/logs?status=SKIPPED").json
    assert {log["reason"] for log in skipped_page} == {"opted_out", "suppressed"}


def test_a_campaign_of_only_skipped_members_completes(client, app):
    add_customers(client, 3)
    for i in range(3):
        client.patch(f"/api/customers/c00{i}", json={"opted_out": True})
    campaign_id = ObjectId(new_campaign(client))
    materialise(campaign_id)
    campaign = Campaign.objects.get(id=campaign_id)
    assert campaign.status == "COMPLETED" and campaign.counts == {"SKIPPED": 3}


def test_an_opt_out_while_a_message_waits_is_honoured_when_it_is_sent(client, live, vendor):
    # Given a campaign materialised for 10 customers whose chunks have waited a while
    # (a local send time, quiet hours or a backlog).
    add_customers(client, 10)
    campaign_id = new_campaign(client, frequency_cap={"messages": 1, "days": 7})
    materialise(ObjectId(campaign_id))
    waited = utcnow() - timedelta(minutes=5)
    SendChunk.objects(campaign_id=ObjectId(campaign_id)).update(set__created_at=waited)

    # When one customer opts out and another's address is suppressed meanwhile.
    client.patch("/api/customers/c001", json={"opted_out": True})
    client.post("/api/suppressions", json={"address": "c2@example.com"})
    for chunk in SendChunk.objects(campaign_id=ObjectId(campaign_id)):
        sending.enqueue_chunk(str(chunk.id))
    campaign = wait_until_finished(client, campaign_id)

    # Then their messages are SKIPPED, not sent, and counted.
    logs = {log.customer_id: log for log in CommunicationLog.objects(campaign_id=campaign_id)}
    skipped = {cid: log.reason for cid, log in logs.items() if log.status == "SKIPPED"}
    assert skipped == {"c001": "opted_out", "c002": "suppressed"}
    assert campaign["stats"]["skipped"] == 2 and campaign["stats"]["sent"] == 8
    assert campaigns.recount(ObjectId(campaign_id), repair=False)["consistent"]
    for cid in skipped:
        found = requests.get(f"{vendor}/admin/deliveries/{logs[cid].id}", timeout=5).json()
        assert found["deliveries"] == 0, cid
    assert requests.get(f"{vendor}/admin/stats", timeout=5).json()["deliveries"] == 8
    # ... and what was never sent does not count towards their frequency cap.
    contacted = {ledger.customer_id for ledger in ContactLedger.objects if ledger.contacts}
    assert contacted == set(logs) - set(skipped)
