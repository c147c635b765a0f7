"""Draft campaigns are edited and deleted over the API; any other campaign never is."""

import pytest
from bson import ObjectId

from crm.documents import Audience, Campaign, CampaignStatus
from crm.services import api_keys, drafts
from crm.services.errors import InvalidTransition
from tests.helpers.database import database_contents
from tests.helpers.factories import EVERYONE, add_customers
from tests.helpers.http import assert_error

LATER = {"send_at": "2099-01-01T09:00:00+01:00", "quiet_hours": {"start": "21:00", "end": "08:00"}}


@pytest.fixture
def audience_id(app):
    return str(Audience(rules=EVERYONE).save().id)


@pytest.fixture
def draft(client, audience_id):
    body = {
        "name": "June",
        "audience_id": audience_id,
        "message": "Hi {{ name }}, tpyo",
        "frequency_cap": {"messages": 2, "days": 7},
    }
    return client.post("/api/campaign", json=body).json["id"]


def stored(campaign_id):
    """The campaign as MongoDB holds it, without what differs between any two campaigns."""
    found = Campaign._get_collection().find_one({"_id": ObjectId(campaign_id)})
    return {name: value for name, value in found.items() if name not in ("_id", "created_at")}


def test_an_edited_draft_is_stored_as_if_created_so(client, draft, audience_id):
    changes = {
        "name": "June thank-you",
        "message": "Hi {{ name }}, typo fixed",
        "holdout_percent": 12.5,
        "variants": [{"message": "Hi {{ name }}"}, {"message": "Hello {{ name }}", "weight": 3}],
        "schedule": LATER,
        "rate_limit_per_second": 5,
        "attribution_window_days": 14,
        "frequency_cap": None,
        "ignore_frequency_cap": True,
    }
    response = client.patch(f"/api/campaign/{draft}", json=changes)
    assert response.status_code == 200, response.json
    assert response.json["message"] == "Hi {{ name }}, typo fixed"
    assert response.json["status"] == "DRAFT" and response.json["frequency_cap"] is None
    assert client.get(f"/api/campaign/{draft}").json == response.json

    fresh = client.post("/api/campaign", json={"audience_id": audience_id, **changes}).json["id"]
    assert stored(draft) == stored(fresh)

    cleared = client.patch(f"/api/campaign/{draft}", json={"name": None, "schedule": None})
    assert cleared.json["name"] is None and cleared.json["schedule"] is None
    assert {"name", "schedule"}.isdisjoint(stored(draft))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"message": "Hi {{ password }}"}, "message"),
        ({"message": ""}, "message"),
        ({"message": None}, "message"),
        ({"variants": [{"message": "Hi {{ name"}]}, "variants"),
        ({"audience_id": str(ObjectId())}, "audience_id"),
        ({"audience_id": "nope"}, "audience_id"),
        ({"holdout_percent": 80}, "holdout_percent"),
        ({"schedule": {"send_at": "2020-01-01T09:00:00+00:00"}}, "schedule"),
        ({"ignore_frequency_cap": True}, "frequency_cap"),
        ({"status": "SENT"}, "status"),
        ({}, "_schema"),
    ],
)
def test_a_bad_field_is_422_with_its_name_and_the_draft_is_unchanged(client, draft, changes, field):
    before = database_contents()
    assert_error(client.patch(f"/api/campaign/{draft}", json=changes), 422, "json", field)
    assert database_contents() == before


@pytest.mark.parametrize("becomes", ["SCHEDULED", "SENDING", "CANCELLED"])
def test_a_campaign_no_longer_a_draft_is_neither_edited_nor_deleted(client, draft, becomes):
    if becomes == "CANCELLED":
        client.post(f"/api/campaign/{draft}/cancel")
    else:
        add_customers(client, 1)  # an audience without members is not sent
        schedule = LATER if becomes == "SCHEDULED" else None
        body = {"campaign_id": draft, **({"schedule": schedule} if schedule else {})}
        client.post("/api/sendCampaign", json=body)
    assert client.get(f"/api/campaign/{draft}").json["status"] == becomes
    before = database_contents()

    edit = client.patch(f"/api/campaign/{draft}", json={"message": "Hi again"})
    assert f"is {becomes}; only a DRAFT can be edited" in edit.json["message"]
    assert_error(edit, 409)
    deletion = client.delete(f"/api/campaign/{draft}")
    assert f"is {becomes}; only a DRAFT can be deleted" in deletion.json["message"]
    assert_error(deletion, 409)
    assert database_contents() == before


def test_an_edit_read_as_a_draft_is_not_written_once_the_campaign_is_scheduled(app, draft):
    # Given an edit checked against the draft as read,
    update = drafts.prepare(Campaign.objects.get(id=draft), {"message": "Hi {{ name }}!"})
    # when the campaign is scheduled before the edit is written,
    Campaign.objects(id=draft).update(set__status=CampaignStatus.SCHEDULED)
    before = database_contents()
    # then the write refuses and changes nothing.
    with pytest.raises(InvalidTransition, match="is SCHEDULED"):
        drafts.apply(ObjectId(draft), update)
    assert database_contents() == before


def test_a_deleted_draft_is_gone_and_deleting_it_again_is_404(client, draft, audience_id):
    other = client.post("/api/campaign", json={"audience_id": audience_id, "message": "Hi"})
    response = client.delete(f"/api/campaign/{draft}")
    assert response.status_code == 204 and response.data == b""
    assert_error(client.get(f"/api/campaign/{draft}"), 404)
    assert_error(client.delete(f"/api/campaign/{draft}"), 404)
    assert_error(client.patch(f"/api/campaign/{draft}", json={"name": "x"}), 404)
    assert client.get(f"/api/campaign/{other.json['id']}").status_code == 200


def test_editing_and_deleting_need_a_write_key(anonymous, draft):
    read, write = (
        {"Authorization": f"Bearer {api_keys.create(scope, scope)[1]}"}
        for scope in ("read", "write")
    )
    before = stored(draft)
    assert_error(anonymous.patch(f"/api/campaign/{draft}", json={"name": "x"}, headers=read), 403)
    assert_error(anonymous.delete(f"/api/campaign/{draft}", headers=read), 403)
    assert stored(draft) == before
    edited = anonymous.patch(f"/api/campaign/{draft}", json={"name": "x"}, headers=write)
    assert edited.status_code == 200
    assert anonymous.delete(f"/api/campaign/{draft}", headers=write).status_code == 204
