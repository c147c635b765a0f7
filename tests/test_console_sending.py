"""Sending from the console in a real browser (Debian's chromium driven by Playwright), as
in tests/test_console.py, whose fixtures these use: a form sent twice makes one campaign,
Send and Cancel are confirmed with the count of customers counted then, and a campaign
whose messages never reached the vendor says so."""

# ruff: noqa: F811 (its fixtures, imported, are parameters of the tests)

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import requests

from crm.documents import Campaign, CommunicationLog
from crm.queue import broker as worker_broker
from tests.helpers.vendors import stats as vendor_stats
from tests.test_console import (  # noqa: F401 (fixtures)
    _audience,
    accounts,
    browser,
    customers,
    page,
    playwright_api,
    pytestmark,
    shoot,
    sign_in,
)

expect = playwright_api.expect
CAMPAIGN_PAGE = re.compile(r"/app/campaigns/[0-9a-f]{24}$")
CONFIRM_SEND = re.compile(r"/app/campaigns/[0-9a-f]{24}/confirm/send$")


def _cookies(page):
    """A requests session signed in as ``page`` is, for requests sent at the same moment."""
    http = requests.Session()
    for cookie in page.context.cookies():
        http.cookies.set(cookie["name"], cookie["value"])
    return http


def _more_customers(first, last):
    from crm.services import customers

    for i in range(first, last + 1):
        customers.upsert(
            {"customer_id": f"c-{i:04d}", "name": f"Late {i}", "email": f"c{i}@example.com"}
        )


def test_send_now_twice_makes_and_sends_one_campaign_to_the_count_it_confirmed(
    app, live, vendor, page, accounts, customers
):
    audience = _audience()
    _more_customers(customers + 1, customers + 5)  # after the audience was counted and saved
    members = customers + 5
    assert audience.size == customers
    url = live
    sign_in(page, url, "marketer", accounts["marketer"])

    # The composer counts the audience as it opens, and again when another is chosen.
    page.goto(f"{url}/app/campaigns/new?audience_id={audience.id}")
    expect(page.locator("#audience-size")).to_have_text(f"{members} customers now")
    composer_url = page.url
    page.get_by_label("Audience").select_option("")
    _more_customers(members + 1, members + 1)
    page.get_by_label("Audience").select_option(str(audience.id))
    members += 1
    expect(page.locator("#audience-size")).to_have_text(f"{members} customers now")
    page.get_by_label("Campaign name").fill("Once")
    shoot(page, "composer-audience-size")

    # Send now asks first, naming the count; Back and Send now again asks about the same
    # campaign.
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(CONFIRM_SEND)
    confirm_url = page.url
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Send “Once” now to {members} customers?"
    )
    shoot(page, "campaign-confirm-send")
    assert Campaign.objects(name="Once").get().status == "DRAFT"
    page.go_back()
    assert page.url == composer_url
    page.get_by_label("Campaign name").fill("Once")
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(CONFIRM_SEND)
    assert page.url == confirm_url
    assert Campaign.objects.count() == 1

    # A double click posts the same form twice at once: still one campaign.
    fields = {"form_key": composer_url.split("form=")[1].split("&")[0]}
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    form = {**fields, "csrf_token": token, "name": "Once", "audience_id": str(audience.id)}
    form |= {"message": "Hi {{ name }}", "action": "send"}
    http = _cookies(page)
    with ThreadPoolExecutor(2) as pool:
        posted = list(pool.map(lambda _: http.post(f"{url}/app/campaigns", data=form), range(2)))
    assert [answer.status_code for answer in posted] == [200, 200]
    assert Campaign.objects.count() == 1

    page.get_by_role("button", name=f"Send to {members} customers").click()
    page.wait_for_url(CAMPAIGN_PAGE)
    expect(page.locator("#campaign-status")).to_have_text("COMPLETED", timeout=30_000)
    campaign = Campaign.objects.get(name="Once")
    assert CommunicationLog.objects(campaign_id=campaign.id).count() == members

    # Back to the confirmation, and to the composer, and sending again sends nothing more.
    page.go_back()
    page.wait_for_url(CAMPAIGN_PAGE)  # the confirmation of a sent campaign leads to it
    page.goto(composer_url)
    expect(page.locator("#composer-sent")).to_contain_text("Once")
    shoot(page, "composer-sent-already")
    page.get_by_role("button", name="Send now").click()
    page.wait_for_url(CAMPAIGN_PAGE)
    expect(page.get_by_role("alert").first).to_contain_text("sent already")
    assert Campaign.objects.count() == 1
    with requests.Session() as http:
        assert vendor_stats(http, vendor)["messages"] == members

    # The funnel counts what the vendor took: every message, here.
    taken = page.locator('[data-funnel-cell="accepted"]')
    assert taken.text_content() == str(members)
    failed = CommunicationLog.objects(campaign_id=campaign.id, status="FAILED").count()
    assert page.locator('[data-funnel-cell="failed"]').text_content() == str(failed)
    assert page.locator('[data-funnel-cell="unsent"]').text_content() == "0"


def test_cancel_asks_first_naming_the_customers_it_spares(app, page, accounts, customers):
    from crm.services import campaigns
    from devstack.embedded import serve

    campaign = campaigns.create({"name": "Maybe", "audience_id": _audience().id, "message": "Hi"})
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.goto(f"{url}/app/campaigns/{campaign.id}")
        page.get_by_role("button", name="Cancel").click()
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_have_text(f"Cancel “Maybe”: {customers} customers will not get it?")
        shoot(page, "campaign-confirm-cancel")
        page.get_by_role("link", name="Keep it").click()
        page.wait_for_url(CAMPAIGN_PAGE)
        assert campaigns.get(campaign.id).status == "DRAFT"

        # Without the confirmation, a posted Cancel only leads to it.
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        page.request.post(f"{url}/app/campaigns/{campaign.id}/cancel", form={"csrf_token": token})
        assert campaigns.get(campaign.id).status == "DRAFT"

        page.get_by_role("button", name="Cancel").click()
        page.get_by_role("button", name="Cancel the campaign").focus()
        page.keyboard.press("Enter")  # the confirmation works from the keyboard
        expect(page.locator("#campaign-status")).to_have_text("CANCELLED")
    assert campaigns.get(campaign.id).status == "CANCELLED"


def test_a_campaign_whose_messages_never_reached_the_vendor_says_so(
    app, live, vendor, page, accounts, customers
):
    from crm.services import campaigns

    # Given a vendor refusing every request, with no time allowed to wait it out,
    worker_broker.setup(replace(worker_broker.settings(), vendor_outage_budget_seconds=0))
    fault = {"mode": "error_429", "requests": None, "retry_after": 0}
    requests.post(f"{vendor}/admin/faults", json=fault, timeout=5).raise_for_status()
    campaign = campaigns.create({"name": "Lost", "audience_id": _audience().id, "message": "Hi"})
    url = live
    sign_in(page, url, "marketer", accounts["marketer"])

    # when it is sent (as its confirmation does), every message fails before the vendor,
    page.goto(f"{url}/app/campaigns/{campaign.id}")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    confirmed = {"csrf_token": token, "confirm": "yes", "count": str(customers)}
    page.request.post(f"{url}/app/campaigns/{campaign.id}/send", form=confirmed)
    page.reload()
    status = page.locator("#campaign-status")
    expect(status).to_have_text("COMPLETED — all failed", timeout=30_000)
    counts = {status: n for status, n in campaigns.get(campaign.id).counts.items() if n}
    assert counts == {"FAILED": customers}
    with requests.Session() as http:
        assert vendor_stats(http, vendor)["messages"] == 0

    # and the page says so: an error badge, none accepted by the vendor, all never sent.
    expect(status).to_have_class(re.compile(r"\btext-bg-danger\b"))
    for cell in ("data-funnel", "data-funnel-cell"):
        shown = {
            key: page.locator(f'[{cell}="{key}"]').text_content()
            for key in ("members", "accepted", "sent", "failed", "unsent")
        }
        assert shown == {
            "members": str(customers),
            "accepted": "0",
            "sent": "0",
            "failed": "0",
            "unsent": str(customers),
        }
    page.reload()
    expect(status).to_have_text("COMPLETED — all failed")
    expect(status).to_have_class(re.compile(r"\btext-bg-danger\b"))
    shoot(page, "campaign-all-failed")
    page.goto(f"{url}/app/campaigns")
    badge = page.locator(f'tr[data-campaign="{campaign.id}"] .badge')
    expect(badge).to_have_text("COMPLETED — all failed")
    expect(badge).to_have_class(re.compile(r"\btext-bg-danger\b"))
    shoot(page, "campaigns-all-failed")
