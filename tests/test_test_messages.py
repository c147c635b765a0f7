"""POST /api/testMessages: a message rendered for one customer, sent through the vendor
once per idempotency key, apart from every campaign."""

from dataclasses import replace
from datetime import timedelta

import pytest
from bson import ObjectId

from crm.clock import utcnow
from crm.documents import Campaign, CommunicationLog, ContactLedger, TestMessage
from crm.documents.contact import Contact
from crm.services import api_keys, consent, customers, suppressions
from devstack.embedded import serve
from tests.helpers.console import signed_in, token
from tests.helpers.http import assert_error
from tests.helpers.vendors import deliveries, stats

TEXT = "Hi {{ name }}, your code is {{ customer_id }}"


@pytest.fixture
def served(app, vendor):
    """The app on a port (for the vendor's receipts), knowing where the vendor is."""
    customers.upsert({"customer_id": "cust010", "name": "Shubh", "email": "s@example.com"})
    with serve(app) as url:
        app.config["CRM_SETTINGS"] = replace(
            app.config["CRM_SETTINGS"], vendor_url=vendor, public_url=url
        )
        yield vendor


def _body(**changes):
    return {"idempotency_key": "key-0001", "customer_id": "cust010", "message": TEXT} | changes


def test_a_key_is_sent_once_and_answers_alike_after(client, served, http):
    first = client.post("/api/testMessages", json=_body())
    assert first.status_code == 200, first.json
    assert (first.json["status"], first.json["to"]) == ("ACCEPTED", "s@example.com")
    assert first.json["body"] == "Hi Shubh, your code is cust010"
    assert first.json["requested_by"] == "API key tests"
    assert first.json["idempotency_key"] == "key-0001"
    again = client.post("/api/testMessages", json=_body())
    assert again.status_code == 200 and again.json == first.json
    assert deliveries(http, served, first.json["id"])["submissions"] == 1
    assert stats(http, served)["messages"] == 1
    reused = client.post("/api/testMessages", json=_body(message="Other"))
    assert_error(reused, 409, "json", "idempotency_key")
    assert CommunicationLog.objects.count() == 0 and Campaign.objects.count() == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"customer_id": "nobody"}, "customer_id"),
        ({"idempotency_key": "short"}, "idempotency_key"),
        ({"message": "Hi {{ nickname }}"}, "message"),
    ],
)
def test_bad_input_is_a_422_and_sends_nothing(client, served, http, changes, field):
    assert_error(client.post("/api/testMessages", json=_body(**changes)), 422, "json", field)
    assert TestMessage.objects.count() == 0 and stats(http, served)["messages"] == 0


def test_without_the_vendors_address_nothing_is_recorded(client):
    customers.upsert({"customer_id": "cust010", "name": "Shubh", "email": "s@example.com"})
    assert_error(client.post("/api/testMessages", json=_body()), 503)
    assert TestMessage.objects.count() == 0


def test_a_read_only_key_cannot_send_one(app, served, http):
    reader = app.test_client()
    reader.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_keys.create('r', 'read')[1]}"
    assert_error(reader.post("/api/testMessages", json=_body()), 403)
    assert stats(http, served)["messages"] == 0


def _opt_out():
    consent.set_opted_out("cust010", True)


def _suppress():
    suppressions.add("S@Example.com", "complaint")


def _over_the_cap():
    contact = Contact(at=utcnow() - timedelta(days=1), campaign_id=ObjectId())
    ContactLedger(customer_id="cust010", contacts=[contact], version=1).save()


UNREACHABLE = {"opted_out": _opt_out, "suppressed": _suppress, "frequency_cap": _over_the_cap}


@pytest.fixture
def capped(app):
    """The settings' cap, one message per customer a week, as a worker would apply it."""
    consent.configure(replace(app.config["CRM_SETTINGS"], frequency_cap_messages=1))
    yield
    consent.configure(app.config["CRM_SETTINGS"])


@pytest.mark.parametrize("reason", UNREACHABLE)
def test_a_customer_a_campaign_would_skip_gets_no_test_message(
    app, client, served, http, capped, reason
):
    UNREACHABLE[reason]()
    console = signed_in(app, "marketer")
    headers = {"X-CSRF-Token": token(console)}
    refused = [
        client.post("/api/testMessages", json=_body()),
        console.post("/app/campaigns/test-message", json=_body(), headers=headers),
    ]

    assert_error(refused[0], 409, "json", "customer_id")
    assert reason in refused[0].json["errors"]["json"]["customer_id"][0]
    assert refused[1].status_code == 409
    assert reason in refused[1].json["errors"]["customer_id"][0]
    assert TestMessage.objects.count() == 0 and stats(http, served)["messages"] == 0


def test_a_test_message_adds_no_contact_to_the_cap(client, served, http, capped):
    assert client.post("/api/testMessages", json=_body()).json["status"] == "ACCEPTED"
    assert client.post("/api/testMessages", json=_body(idempotency_key="key-0002")).json[
        "status"
    ] == ("ACCEPTED")
    assert stats(http, served)["messages"] == 2
    assert ContactLedger.objects.count() == 0
