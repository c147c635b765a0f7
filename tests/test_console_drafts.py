"""Draft campaigns in the console (in-process): edited in the composer, deleted once
confirmed; only by marketers, and never once the campaign is no longer a DRAFT."""

import pytest
from bson import ObjectId

from crm.documents import Audience, Campaign
from tests.helpers.console import form_fields, signed_in, token
from tests.helpers.factories import EVERYONE

OPTIONS = {
    "holdout_percent": 12.5,
    "variants": [{"message": "Hi {{ name }}, tpyo", "weight": 2}, {"message": "Hello"}],
    "frequency_cap": {"messages": 3, "days": 5},
    "schedule": {
        "send_at": "2099-01-01T09:30:00+01:00",
        "timezone": "Europe/Berlin",
        "quiet_hours": {"start": "21:00", "end": "08:00"},
        "missed_schedule": "skip",
    },
}


@pytest.fixture
def draft(client):
    audience_id = str(Audience(rules=EVERYONE).save().id)
    body = {"name": "June", "audience_id": audience_id, "message": "Hi {{ name }}, tpyo"}
    return client.post("/api/campaign", json={**body, **OPTIONS}).json["id"]


def stored(campaign_id):
    return Campaign._get_collection().find_one({"_id": ObjectId(campaign_id)})


def test_a_marketer_edits_a_draft_in_the_composer_it_opens_filled_in(app, draft):
    marketer = signed_in(app, "marketer")
    page = marketer.get(f"/app/campaigns/{draft}").get_data(as_text=True)
    assert f'href="/app/campaigns/{draft}/edit"' in page and 'id="delete-draft"' in page
    editor = marketer.get(f"/app/campaigns/{draft}/edit")
    assert editor.status_code == 200
    form = form_fields(editor.get_data(as_text=True), "composer")
    assert form["message"] == "Hi {{ name }}, tpyo" and form["when"] == "at"
    before = stored(draft)

    # Saved as it opened, the draft is unchanged: every option came back in the form.
    saved = marketer.post(f"/app/campaigns/{draft}/edit", data={**form, "action": "draft"})
    assert saved.headers["Location"] == f"/app/campaigns/{draft}"
    assert stored(draft) == before

    # A fixed typo changes the message and nothing else.
    fixed = {**form, "message": "Hi {{ name }}, fixed", "action": "draft"}
    assert marketer.post(f"/app/campaigns/{draft}/edit", data=fixed).status_code == 302
    variant_a = {**before["variants"][0], "message": "Hi {{ name }}, fixed"}
    expected = {**before, "message": variant_a["message"]}
    assert stored(draft) == {**expected, "variants": [variant_a, before["variants"][1]]}
    assert "Hi {{ name }}, fixed" in marketer.get(f"/app/campaigns/{draft}").get_data(as_text=True)

    # Options cleared in the form are cleared on the draft.
    plain = {**form, "when": "now", "cap": "default", "holdout_percent": "", "action": "draft"}
    plain.update({"variants.1.message": "", "schedule.quiet_hours.start": ""})
    plain["schedule.quiet_hours.end"] = ""
    assert marketer.post(f"/app/campaigns/{draft}/edit", data=plain).status_code == 302
    kept = stored(draft)
    assert {"schedule", "frequency_cap"}.isdisjoint(kept)
    assert (kept["variants"], kept["holdout_percent"]) == ([], 0)


def test_a_refused_edit_shows_the_field_and_writes_nothing(app, draft):
    marketer = signed_in(app, "marketer")
    form = form_fields(
        marketer.get(f"/app/campaigns/{draft}/edit").get_data(as_text=True), "composer"
    )
    before = stored(draft)
    bad = {**form, "message": "Hi {{ password }}", "action": "draft"}
    refused = marketer.post(f"/app/campaigns/{draft}/edit", data=bad)
    assert refused.status_code == 422
    assert 'data-error-for="message"' in refused.get_data(as_text=True)
    without_token = {key: value for key, value in bad.items() if key != "csrf_token"}
    without_token["message"] = "Hi {{ name }}, fixed"
    assert marketer.post(f"/app/campaigns/{draft}/edit", data=without_token).status_code == 400
    assert stored(draft) == before


def test_a_draft_is_deleted_once_confirmed(app, draft):
    marketer = signed_in(app, "marketer")
    unconfirmed = marketer.post(
        f"/app/campaigns/{draft}/delete", data={"csrf_token": token(marketer)}
    )
    assert unconfirmed.headers["Location"] == f"/app/campaigns/{draft}"
    assert stored(draft) is not None
    confirmed = {"csrf_token": token(marketer), "confirm": "yes"}
    deleted = marketer.post(f"/app/campaigns/{draft}/delete", data=confirmed)
    assert deleted.headers["Location"] == "/app/campaigns"
    assert stored(draft) is None
    assert marketer.post(f"/app/campaigns/{draft}/delete", data=confirmed).status_code == 404


def test_a_scheduled_campaign_is_neither_edited_nor_deleted(app, client, draft):
    client.post("/api/sendCampaign", json={"campaign_id": draft})
    before = stored(draft)
    assert before["status"] == "SCHEDULED"
    marketer = signed_in(app, "marketer")
    page = marketer.get(f"/app/campaigns/{draft}").get_data(as_text=True)
    assert "Edit draft" not in page and "delete-draft" not in page
    assert marketer.get(f"/app/campaigns/{draft}/edit").headers["Location"].endswith(draft)
    form = {"csrf_token": token(marketer), "audience_id": str(before["audience_id"])}
    marketer.post(f"/app/campaigns/{draft}/edit", data={**form, "message": "Hi"})
    marketer.post(f"/app/campaigns/{draft}/delete", data={**form, "confirm": "yes"})
    assert "only a DRAFT can be deleted" in marketer.get(f"/app/campaigns/{draft}").get_data(
        as_text=True
    )
    assert stored(draft) == before


def test_a_viewer_neither_sees_nor_uses_edit_and_delete(app, draft):
    viewer = signed_in(app, "viewer")
    page = viewer.get(f"/app/campaigns/{draft}").get_data(as_text=True)
    assert "Edit draft" not in page and "delete-draft" not in page
    before = stored(draft)
    assert viewer.get(f"/app/campaigns/{draft}/edit").status_code == 403
    form = {"csrf_token": token(viewer), "message": "Hi", "confirm": "yes"}
    assert viewer.post(f"/app/campaigns/{draft}/edit", data=form).status_code == 403
    assert viewer.post(f"/app/campaigns/{draft}/delete", data=form).status_code == 403
    assert stored(draft) == before
