"""Sending refuses an audience without members, through the API and the console, and
leaves the campaign a DRAFT; the console's results name the model behind each figure."""

from datetime import datetime, timedelta
from decimal import Decimal

from crm.documents import Audience, Campaign, CommunicationLog
from tests.helpers import attribution
from tests.helpers.console import signed_in, token
from tests.helpers.factories import add_customers
from tests.helpers.http import assert_error

NOBODY = {"logic": "AND", "rules": [{"field": "visit_count", "operator": ">=", "value": 1000}]}


def _campaign_to_nobody(client):
    audience = Audience(rules=NOBODY).save()
    body = {"audience_id": str(audience.id), "message": "Hi {{ name }}"}
    created = client.post("/api/campaign", json=body)
    assert created.status_code == 201, created.json
    return created.json["id"]


def test_a_campaign_to_an_audience_without_members_is_refused_and_stays_a_draft(client):
    add_customers(client, 3)  # none of whom the audience matches
    campaign_id = _campaign_to_nobody(client)

    refused = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})

    assert_error(refused, 422, "json", "campaign_id")
    assert "no members" in refused.json["message"]
    assert Campaign.objects.get(id=campaign_id).status == "DRAFT"
    assert Campaign.objects(status__in=["SENDING", "SCHEDULED"]).count() == 0
    assert CommunicationLog.objects.count() == 0


def test_the_console_offers_no_send_to_nobody_and_refuses_a_forced_one(app, client):
    campaign_id = _campaign_to_nobody(client)
    console = signed_in(app, "marketer")

    confirm = console.get(f"/app/campaigns/{campaign_id}/confirm/send")
    page = confirm.get_data(as_text=True)
    assert confirm.status_code == 200
    assert "Send “" in page and "now to 0 customers?" in page
    assert "no one to send it to" in page and "Send to 0" not in page

    forced = console.post(
        f"/app/campaigns/{campaign_id}/send",
        data={"csrf_token": token(console), "confirm": "yes", "count": "0"},
        follow_redirects=True,
    )
    assert "no members" in forced.get_data(as_text=True)
    assert Campaign.objects.get(id=campaign_id).status == "DRAFT"
    assert CommunicationLog.objects.count() == 0


def test_results_name_the_model_behind_each_figure_and_reconcile_them(app):
    # Given a customer messaged by two campaigns who orders after both: the later message
    # has the last touch, so the earlier campaign is credited nothing, though its messaged
    # member ordered within its window.
    start = datetime(2026, 3, 2, 10)
    earlier, later = attribution.campaign(holdout_percent=0), attribution.campaign()
    touches = [
        attribution.Touch(earlier.id, "c1", "SENT", start),
        attribution.Touch(earlier.id, "c2", "SENT", start),
        attribution.Touch(later.id, "c1", "SENT", start + timedelta(days=1)),
    ]
    attribution.store(touches, [("c1", datetime(2026, 3, 4), "25.00")])
    figures = attribution.oracle(
        touches,
        [("c1", datetime(2026, 3, 4), Decimal("25"))],
        {
            earlier.id: 7,
            later.id: 7,
        },
    )[earlier.id]["messaged"]
    assert (figures.conversions, figures.window_conversions) == (0, 1)
    console = signed_in(app, "viewer")

    page = console.get(f"/app/campaigns/{earlier.id}/results").get_data(as_text=True)

    # Then each figure names its model beside it, and the page says why they differ.
    assert _block(page, "conversions").count("last touch") == 1
    assert _block(page, "revenue").count("last touch") == 1
    assert "any order within 7 days" in _block(page, "rates")
    assert "any order within 7 days" in _block(page, "lift")
    assert _text(page, "credited-elsewhere") == (
        "1 of 2 messaged ordered within 7 days, and another campaign's later message "
        "had the last touch: those orders are credited to it."
    )


def _block(page, name):
    """The HTML of the figure block marked ``data-model-of="name"``."""
    start = page.index(f'data-model-of="{name}"')
    return page[start : page.index("</div></div>", start)] if name != "rates" else page[start:]


def _text(page, key):
    start = page.index(">", page.index(f'data-result="{key}"')) + 1
    text = page[start : page.index("</p>", start)]
    return " ".join(text.split())
