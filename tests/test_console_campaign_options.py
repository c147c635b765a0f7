"""The console's campaign options, results and consent pages in a real browser (Debian's
chromium driven by Playwright), as in tests/test_console.py, whose fixtures these use."""

# ruff: noqa: F811 (its fixtures, imported, are parameters of the tests)

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from devstack.embedded import serve
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


def _signed_in(browser, url, role, password):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    sign_in(tab, url, role, password)
    tab.wait_for_url(re.compile(r"/app/?$"))
    return tab


def test_the_live_page_counts_skipped_and_held_out_and_a_viewer_reads_the_results(
    app, live, browser, page, accounts, customers
):
    from crm.documents import CommunicationLog
    from crm.schemas.order import OrderSchema
    from crm.services import attribution, campaigns, consent, orders, suppressions
    from crm.web.results import percent, points

    consent.set_opted_out("c-0001", True)
    suppressions.add("C2@example.com", "bounced")
    campaign = campaigns.create(
        {
            "name": "Measured",
            "audience_id": _audience().id,
            "message": "Hi {{ name }}",
            "holdout_percent": 40,
            "variants": [{"message": "Hi {{ name }}"}, {"message": "Hello {{ name }}"}],
        }
    )
    url = live
    sign_in(page, url, "marketer", accounts["marketer"])
    page.goto(f"{url}/app/campaigns/{campaign.id}")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("button", name=f"Send to {customers} customers").click()
    expect(page.locator("#campaign-status")).to_have_text("COMPLETED", timeout=30_000)

    logs = CommunicationLog.objects(campaign_id=campaign.id)
    held_out = logs.filter(status="HELD_OUT").count()
    assert 0 < held_out < customers
    page.reload()
    assert page.locator('[data-count="skipped"]').inner_text() == "2"
    assert page.locator('[data-count="held_out"]').inner_text() == str(held_out)
    page.get_by_label("Status").select_option("SKIPPED")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tbody tr", has=page.locator("a[href*='/app/customers/']"))
    expect(rows).to_have_count(2)
    reasons = {
        row.locator("td").nth(0).inner_text(): row.locator("td").nth(3).inner_text()
        for row in rows.all()
    }
    assert reasons == {"c-0001": "opted_out", "c-0002": "suppressed"}

    today = datetime.now(UTC).date().isoformat()
    sent = [log.customer_id for log in logs.filter(status="SENT").order_by("customer_id")]
    kept = [log.customer_id for log in logs.filter(status="HELD_OUT").order_by("customer_id")]
    buyers = sent[:3] + kept[:1]
    for n, customer_id in enumerate(buyers):
        order = {"order_id": f"o{n}", "customer_id": customer_id, "order_amount": f"{10 + n}.50"}
        orders.record(OrderSchema().load({**order, "order_date": today}))

    viewer = _signed_in(browser, url, "viewer", accounts["viewer"])
    viewer.goto(f"{url}/app/campaigns/{campaign.id}")
    viewer.get_by_role("link", name=re.compile("^Results")).click()
    viewer.wait_for_url(re.compile(r"/results$"))
    report = attribution.report(campaign.id)
    messaged, lift = report["messaged"], report["lift"]
    assert messaged["conversions"] == 3 and report["holdout"]["window_conversions"] == 1
    shown = {
        key: viewer.locator(f'[data-result="{key}"]').inner_text()
        for key in ("conversions", "members", "conversion-rate", "revenue", "orders", "lift-ci")
    }
    assert shown == {
        "conversions": "3",
        "members": str(len(sent)),
        "conversion-rate": percent(3 / len(sent)),
        "revenue": f"{sum(10.5 + n for n in range(3)):,.2f}",
        "orders": "3",
        "lift-ci": points(lift["absolute_ci_95"]),
    }
    assert (
        viewer.locator('[data-result="lift"]').inner_text() == f"{100 * lift['absolute']:+.1f} pts"
    )
    for key, group in (("messaged", messaged), ("holdout", report["holdout"])):
        cells = viewer.locator(f'[data-rate-row="{key}"] td').all_inner_texts()
        rate = group["window_conversion_rate"]
        assert cells == [str(group["members"]), str(group["window_conversions"]), percent(rate)]
        width = viewer.locator(f'[data-rate-bar="{key}"]').get_attribute("width")
        assert width == f"{round(100 * rate, 1)}%"
    by_variant = {
        name: viewer.locator(f'[data-variant="{name}"] [data-variant-conversions]').inner_text()
        for name in ("A", "B")
    }
    assert by_variant == {v["name"]: str(v["messaged"]["conversions"]) for v in report["variants"]}
    assert sum(int(n) for n in by_variant.values()) == 3
    shoot(viewer, "campaign-results")
    viewer.context.close()


def _compose(page, url, audience_id):
    page.goto(f"{url}/app/campaigns/new?audience_id={audience_id}")
    page.get_by_label("Campaign name").fill("Options")
    page.locator("#composer-options summary").click()


def _error(page, name):
    field = page.locator(f'[name="{name}"]:not([type=hidden])')
    described = field.get_attribute("aria-describedby")
    assert field.get_attribute("aria-invalid") == "true", name
    return page.locator(f"#{described}").inner_text()


def test_composer_options_are_checked_by_the_api_schema_and_saved_with_the_campaign(
    app, page, accounts
):
    from crm.documents import Campaign
    from crm.services import campaigns

    audience = _audience()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        _compose(page, url, audience.id)
        page.get_by_label("At a date and time").check()
        page.get_by_label("Start date and time").fill("2020-01-01T09:00")
        page.get_by_label("Quiet hours from").fill("21:00")
        page.get_by_label(re.compile("^Held out")).fill("70")
        page.get_by_label("This campaign's own cap").check()
        page.get_by_label("At most (messages)").fill("0")
        page.get_by_label("In any (days)").fill("a week")
        page.get_by_role("button", name="Save draft").click()
        assert "Must be greater than or equal to 0 and less than or equal to 50" in _error(
            page, "holdout_percent"
        )
        assert _error(page, "frequency_cap.messages")
        assert "integer" in _error(page, "frequency_cap.days")
        assert _error(page, "schedule.quiet_hours.end")
        assert page.get_by_label("Campaign name").input_value() == "Options"
        assert page.get_by_label(re.compile("^Held out")).input_value() == "70"
        page.locator(".is-invalid").first.scroll_into_view_if_needed()
        shoot(page, "composer-options-errors")
        assert Campaign.objects.count() == 0

        # Fixed, the start in the past is the service's refusal, and a variant left out
        # before a bad one is still matched to its row.
        page.get_by_label(re.compile("^Held out")).fill("10")
        page.get_by_label("At most (messages)").fill("2")
        page.get_by_label("In any (days)").fill("7")
        page.get_by_label("Quiet hours until").fill("08:00")
        page.get_by_label("Variant C message").fill("Hi {{ nope }}")
        page.get_by_role("button", name="Save draft").click()
        assert "nope" in _error(page, "variants.2.message")
        page.get_by_label("Variant C message").fill("Hello {{ name }}")
        page.get_by_label("Variant C weight").fill("3")
        page.get_by_role("button", name="Save draft").click()
        assert _error(page, "schedule.send_at")
        assert Campaign.objects.count() == 0

        page.get_by_label(re.compile("^At a local time")).check()
        page.get_by_label("Local send date").fill(tomorrow.isoformat())
        page.get_by_label("Local send time").fill("10:00")
        page.get_by_label(re.compile("^Time zone")).fill("Europe/Berlin")
        page.get_by_role("button", name="Save draft").click()
        page.wait_for_url(re.compile(r"/app/campaigns/[0-9a-f]{24}$"))
        saved = campaigns.get(page.url.rsplit("/", 1)[1])
        assert saved.status == "DRAFT" and saved.holdout_percent == 10
        assert [(v.name, v.message, v.weight) for v in saved.variants] == [
            ("A", "Hi {{ name }}, ", 1),
            ("B", "Hello {{ name }}", 3),
        ]
        assert (saved.frequency_cap.messages, saved.frequency_cap.days) == (2, 7)
        schedule = saved.schedule
        assert (schedule.send_date.date(), schedule.local_send_time) == (tomorrow, "10:00")
        assert schedule.timezone == "Europe/Berlin"
        assert (schedule.quiet_hours.start, schedule.quiet_hours.end) == ("21:00", "08:00")

        # A start time is read in the given zone, and Send now schedules it.
        start = datetime.combine(tomorrow, datetime.min.time()).replace(hour=9, minute=30)
        _compose(page, url, audience.id)
        page.get_by_label("At a date and time").check()
        page.get_by_label("Start date and time").fill(start.isoformat()[:16])
        page.get_by_label(re.compile("^Time zone")).fill("America/New_York")
        page.get_by_label(re.compile("^No cap")).check()
        shoot(page, "composer-options")
        page.get_by_role("button", name="Send now").click()
        page.get_by_role("button", name=re.compile("^Schedule for")).click()
        page.wait_for_url(re.compile(r"/app/campaigns/[0-9a-f]{24}$"))
        expect(page.locator("#campaign-status")).to_have_text("SCHEDULED")
        scheduled = campaigns.get(page.url.rsplit("/", 1)[1])
        expected = start.replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
        assert scheduled.schedule.send_at.replace(tzinfo=UTC) == expected
        assert scheduled.ignore_frequency_cap is True and scheduled.frequency_cap is None


def test_opting_a_customer_out_and_managing_suppressions(app, browser, page, accounts, customers):
    from crm.documents import Customer, Suppression
    from crm.services import suppressions

    with serve(app) as url:
        viewer = _signed_in(browser, url, "viewer", accounts["viewer"])
        viewer.goto(f"{url}/app/customers/c-0002")
        assert viewer.locator("#consent-form").count() == 0
        token = viewer.locator('meta[name="csrf-token"]').get_attribute("content")
        forced = viewer.request.post(
            f"{url}/app/customers/c-0002/consent",
            form={"csrf_token": token, "opted_out": "true"},
            max_redirects=0,
        )
        assert forced.status == 403
        assert viewer.get_by_role("link", name="Suppressions").count() == 0
        assert viewer.request.get(f"{url}/app/suppressions").status == 403
        viewer.context.close()
        assert Customer.objects.get(customer_id="c-0002").opted_out is not True

        sign_in(page, url, "marketer", accounts["marketer"])
        page.goto(f"{url}/app/customers/c-0002")
        page.get_by_role("button", name="Opt out of campaigns").click()
        expect(page.locator("#customer-consent")).to_have_text("Opted out")
        assert Customer.objects.get(customer_id="c-0002").opted_out is True
        page.get_by_role("button", name="Opt back in to campaigns").click()
        expect(page.locator("#customer-consent")).to_have_text("Subscribed")
        assert Customer.objects.get(customer_id="c-0002").opted_out is False

        suppressions.add_many([f"s{i:02}@example.com" for i in range(30)], "bounced")
        page.get_by_role("link", name="Suppressions").click()
        page.get_by_label("E-mail address").fill("not an address")
        page.get_by_role("button", name="Suppress").click()
        assert "email" in _error(page, "address").lower()
        assert Suppression.objects.count() == 30
        page.get_by_label("E-mail address").fill("  Ann@Example.COM ")
        page.get_by_label(re.compile("^Reason")).fill("complaint")
        page.get_by_role("button", name="Suppress").click()
        expect(page.get_by_role("alert")).to_contain_text("ann@example.com suppressed")
        assert suppressions.get("ann@example.com").reason == "complaint"
        rows = page.locator("#suppressions-table tbody tr")
        first = rows.locator("td:first-child").all_inner_texts()
        assert first == sorted(["ann@example.com", *(f"s{i:02}@example.com" for i in range(24))])
        shoot(page, "suppressions")
        page.get_by_role("link", name="Next page").click()
        rest = rows.locator("td:first-child").all_inner_texts()
        assert rest == [f"s{i:02}@example.com" for i in range(24, 30)]
        page.get_by_role("button", name="Remove s29@example.com").click()
        expect(page.get_by_role("alert")).to_contain_text("s29@example.com is no longer")
        assert Suppression.objects(address="s29@example.com").count() == 0
        assert Suppression.objects.count() == 30
