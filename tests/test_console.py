"""The console at /app in a real browser (Debian's chromium driven by Playwright), against
the app on a real port with worker threads and the vendor simulator.

With CONSOLE_SCREENSHOTS=docs/screenshots, each page is also captured there at desktop
and phone sizes.
"""

import csv
import io
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from bson import ObjectId

from crm import create_app
from crm.documents import Audience
from crm.services import users
from devstack.embedded import serve
from tests.helpers.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider
from tests.helpers.vendors import deliveries
from tests.helpers.vendors import stats as vendor_stats

playwright_api = pytest.importorskip("playwright.sync_api")
axe_api = pytest.importorskip("axe_playwright_python.sync_playwright")
CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

SHOTS = os.environ.get("CONSOLE_SCREENSHOTS")
SIZES = {"desktop": (1366, 768), "phone": (390, 844)}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NAMES = ("Alice", "Bob", "Anna", "Carl")
HOME = re.compile(r"/app/?$")


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def customers(app):
    """Customers c-0001… with names cycling through NAMES and visit_count i % 10."""
    from crm.services import customers

    for i in range(1, 21):
        customers.upsert(
            {
                "customer_id": f"c-{i:04d}",
                "name": f"{NAMES[i % 4]} {i}",
                "email": f"c{i}@example.com",
                "visit_count": i % 10,
                "total_spends": str(i * 10),
            }
        )
    return 20


@pytest.fixture
def accounts(app):
    from crm.services import users

    return {
        role: users.create(f"{role}@example.com", role, temporary=False)[1]
        for role in ("admin", "marketer", "viewer")
    }


def sign_in(page, url, role, password):
    page.goto(f"{url}/app/sign-in")
    page.get_by_label("E-mail").fill(f"{role}@example.com")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def shoot(page, name, focus=None):
    """Check ``page`` with axe-core (no serious or critical violation), then capture it
    at each size into <CONSOLE_SCREENSHOTS>/<name>-<size>.png when that is set, scrolled
    to ``focus`` (a locator) when given."""
    found = axe_api.Axe().run(page).response["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
    assert serious == [], name
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        if focus is not None:
            focus.scroll_into_view_if_needed()
        page.screenshot(path=str(Path(SHOTS) / f"{name}-{size}.png"))
    page.set_viewport_size({"width": 1366, "height": 768})


def test_sign_in_lands_on_the_dashboard_and_repeated_failures_are_slowed(app, page, accounts):
    with serve(app) as url:
        page.goto(f"{url}/app/customers")
        assert "/app/sign-in" in page.url  # signed out: sent to sign in
        shoot(page, "sign-in")
        for _ in range(5):
            sign_in(page, url, "marketer", "wrong password")
            assert page.get_by_role("alert").inner_text() == "Wrong e-mail or password."
        sign_in(page, url, "marketer", "wrong password")
        assert "Too many failed sign-ins" in page.get_by_role("alert").inner_text()
        sign_in(page, url, "marketer", accounts["marketer"])  # unchecked until the window turns
        assert "try again in" in page.get_by_role("alert").inner_text()

        sign_in(page, url, "admin", accounts["admin"])
        page.wait_for_url(HOME)
        assert page.get_by_role("heading", name="Dashboard").is_visible()
        page.goto(f"{url}/app/users")
        shoot(page, "users")
        page.get_by_role("button", name="Sign out").click()
        page.goto(f"{url}/app")
        assert "/app/sign-in" in page.url


def test_the_providers_button_signs_in_from_the_keyboard(settings, broker, page):
    provider = Provider()
    provider.reset("admin@example.com")
    with serve(provider.app()) as issuer:
        app = create_app(
            replace(
                settings,
                oidc_issuer=issuer,
                oidc_client_id=CLIENT_ID,
                oidc_client_secret=CLIENT_SECRET,
                oidc_label="Sign in with Google",
            )
        )
        users.create("admin@example.com", "admin", temporary=False)
        with serve(app) as url:
            page.goto(f"{url}/app/sign-in")
            shoot(page, "sign-in-provider")
            button = page.get_by_role("link", name="Sign in with Google")
            for _ in range(5):  # the skip link, e-mail, password, Sign in, then the provider's
                page.keyboard.press("Tab")
                if button.evaluate("element => element === document.activeElement"):
                    break
            else:
                pytest.fail("Tab never reaches the provider's button")
            page.keyboard.press("Enter")
            page.wait_for_url(HOME)
            assert page.get_by_text("admin@example.com · admin").is_visible()


def test_a_post_without_the_csrf_token_is_refused(app, page, accounts):
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.wait_for_url(HOME)
        form = {
            "name": "x",
            "rules": json.dumps({"rules": [{"field": "visit_count", "operator": "exists"}]}),
            "form_key": str(ObjectId()),
        }
        refused = page.request.post(f"{url}/app/audiences", form=form, max_redirects=0)
        assert refused.status == 400
        assert Audience.objects.count() == 0
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        accepted = page.request.post(
            f"{url}/app/audiences", form={**form, "csrf_token": token}, max_redirects=0
        )
        assert accepted.status == 302
        assert Audience.objects.count() == 1


def _set_rule(rule, field, operator, value):
    rule.get_by_label("Field").select_option(field)
    rule.get_by_label("Operator").select_option(operator)
    rule.get_by_label("Value").fill(value)


def test_a_nested_segment_built_with_clicks_shows_the_preview_services_size(
    app, page, accounts, customers
):
    from crm.services import audiences

    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.goto(f"{url}/app/audiences/new")
        builder = page.locator("#builder")
        _set_rule(builder.locator(".rule").first, "visit_count", ">=", "3")
        builder.get_by_role("button", name="+ Group").click()
        nested = builder.locator("fieldset fieldset").first
        nested.get_by_label("Combine with").select_option("OR")
        _set_rule(nested.locator(".rule").first, "name", "starts_with", "A")
        nested.get_by_role("button", name="+ Rule").click()
        _set_rule(
            builder.locator("fieldset fieldset").first.locator(".rule").nth(1),
            "visit_count",
            ">=",
            "8",
        )
        builder.get_by_role("button", name="+ Group").last.click()
        negated = builder.locator("fieldset fieldset").nth(1)
        negated.get_by_label("Combine with").select_option("NOT")
        _set_rule(negated.locator(".rule").first, "customer_id", "=", "c-0004")

        tree = {
            "logic": "AND",
            "rules": [
                {"field": "visit_count", "operator": ">=", "value": 3},
                {
                    "logic": "OR",
                    "rules": [
                        {"field": "name", "operator": "starts_with", "value": "A"},
                        {"field": "visit_count", "operator": ">=", "value": 8},
                    ],
                },
                {
                    "logic": "NOT",
                    "rules": [{"field": "customer_id", "operator": "=", "value": "c-0004"}],
                },
            ],
        }
        expected = sum(
            1
            for i in range(1, customers + 1)
            if i % 10 >= 3 and (NAMES[i % 4].startswith("A") or i % 10 >= 8) and i != 4
        )
        assert audiences.preview(tree)["size"] == expected
        size = page.locator("#audience-size")
        playwright_api.expect(size).to_have_text(str(expected))
        assert page.locator("#audience-sample tbody tr").count() == expected
        shoot(page, "segment-builder")

        page.get_by_label("Audience name").fill("Loyal A-names")
        page.get_by_role("button", name="Save audience").click()
        page.wait_for_url(f"{url}/app/audiences")
        assert f"{expected:,} customers" in page.get_by_role("alert").inner_text()
        shoot(page, "audiences")


def _audience(size_rule=0):
    from crm.services import audiences

    rules = {
        "logic": "AND",
        "rules": [{"field": "visit_count", "operator": ">=", "value": size_rule}],
    }
    return audiences.create({"name": "Everyone", "rules": rules})


def test_a_campaign_composed_and_sent_reaches_completed_and_exports_one_row_per_log(
    app, live, page, accounts, customers
):
    from crm.documents import CommunicationLog
    from crm.services import campaigns, timelines

    audience = _audience()
    url = live
    sign_in(page, url, "marketer", accounts["marketer"])
    page.goto(f"{url}/app/campaigns/new?audience_id={audience.id}")
    page.get_by_label("Campaign name").fill("Spring")
    page.get_by_role("button", name="customer_id").click()
    previews = page.locator("#message-preview li")
    playwright_api.expect(previews).to_have_count(3)
    playwright_api.expect(previews.first).to_contain_text("Hi Bob 1, c-0001")
    shoot(page, "composer")
    page.get_by_role("button", name="Send now").click()
    page.get_by_role("button", name=f"Send to {customers} customers").click()
    page.wait_for_url(re.compile(r"/app/campaigns/[0-9a-f]{24}$"))
    playwright_api.expect(page.locator("#campaign-status")).to_have_text(
        "COMPLETED", timeout=30_000
    )
    campaign_id = page.url.rsplit("/", 1)[1]
    settled = int(page.locator('[data-count="sent"]').inner_text()) + int(
        page.locator('[data-count="failed"]').inner_text()
    )
    assert settled == customers
    assert page.locator("#campaign-done").inner_text() == str(customers)
    assert page.get_by_role("button", name="Pause").count() == 0
    stats = campaigns.with_stats([campaigns.get(campaign_id)])[0]["stats"]
    expected = {
        "members": customers,
        "accepted": stats["sent"] + stats["failed"],  # the vendor took every one
        "sent": stats["sent"],
        "failed": stats["failed"],
        "unsent": 0,
    }
    for cell in ("data-funnel", "data-funnel-cell"):
        shown = {key: page.locator(f'[{cell}="{key}"]').text_content() for key in expected}
        assert shown == {key: str(n) for key, n in expected.items()}, cell
    sent_width = page.locator('[data-funnel-bar="sent"]').get_attribute("width")
    assert float(sent_width.rstrip("%")) == round(100 * stats["sent"] / customers, 1)
    # The deliveries chart was empty when the page opened: it is redrawn as messages settle.
    playwright_api.expect(page.locator("#deliveries-chart")).to_have_attribute(
        "data-total", str(customers)
    )
    # (which bucket each message is in: tests/test_timelines.py)
    buckets = _figures(page, "deliveries-chart").values()
    assert 0 < len(buckets) <= timelines.MAX_BUCKETS
    for status in ("sent", "failed"):
        assert sum(int(row[status]) for row in buckets) == stats[status]
    page.reload()
    shoot(page, "campaign")

    exported = page.request.get(f"{url}/app/campaigns/{campaign_id}/logs.csv")
    rows = list(csv.DictReader(io.StringIO(exported.text())))
    assert len(rows) == CommunicationLog.objects(campaign_id=campaign_id).count() == customers
    assert len({row["log_id"] for row in rows}) == customers
    page.goto(f"{url}/app/campaigns")
    shoot(page, "campaigns")


def test_pause_and_resume_from_the_live_page(app, live, page, accounts, customers):
    from crm.documents import Campaign
    from crm.services import campaigns

    campaign = campaigns.create(
        {"name": "Slow", "audience_id": _audience().id, "message": "Hi", "rate_limit_per_second": 4}
    )
    url = live
    sign_in(page, url, "marketer", accounts["marketer"])
    page.goto(f"{url}/app/campaigns/{campaign.id}")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("button", name=f"Send to {customers} customers").click()
    page.get_by_role("button", name="Pause").click()
    playwright_api.expect(page.locator("#campaign-status")).to_have_text("PAUSED")
    assert Campaign.objects.get(id=campaign.id).status == "PAUSED"
    page.get_by_role("button", name="Resume").click()
    playwright_api.expect(page.locator("#campaign-status")).to_have_text(
        "COMPLETED", timeout=30_000
    )
    assert (
        Campaign.objects.get(id=campaign.id).counts.get("SENT", 0)
        + Campaign.objects.get(id=campaign.id).counts.get("FAILED", 0)
        == customers
    )


def test_a_viewer_sees_no_controls_and_a_forced_post_is_forbidden(app, page, accounts, customers):
    from crm.services import campaigns

    campaign = campaigns.create({"name": "Draft", "audience_id": _audience().id, "message": "Hi"})
    with serve(app) as url:
        sign_in(page, url, "viewer", accounts["viewer"])
        page.goto(f"{url}/app/campaigns/{campaign.id}")
        assert page.get_by_role("button", name="Send").count() == 0
        assert page.get_by_role("button", name="Cancel").count() == 0
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        forced = page.request.post(
            f"{url}/app/campaigns/{campaign.id}/send", form={"csrf_token": token}, max_redirects=0
        )
        assert forced.status == 403
        assert campaigns.get(campaign.id).status == "DRAFT"
        page.goto(f"{url}/app/customers")
        shoot(page, "customers")
        page.get_by_role("link", name="c-0002").click()
        assert page.get_by_role("heading", name=re.compile("Anna 2")).is_visible()
        shoot(page, "customer")
        page.go_back()
        page.get_by_label(re.compile("Search by")).fill("Ann")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(r"q=Ann"))
        names = page.locator("tbody tr td:nth-child(2)").all_inner_texts()
        assert names and all(name.startswith("Anna") for name in names)


IMPORT_CSV = (
    "customer_id,name,email,tier,\n"
    "i-1,Ines 1,i1@example.com,gold,\n"
    "i-2,Ines 2,i2@example.com,,\n"
    "i-3,Ines 3,not-an-email,silver,\n"
    "i-4,Ines 4,i4@example.com,gold,\n"
    "i-5,Ines 5,i5@example.com,,\n"
)


def test_an_uploaded_csv_is_previewed_then_imported_and_its_rejected_row_explained(
    app, worker, page, accounts
):
    from crm.documents import Customer, Ingestion

    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.wait_for_url(HOME)
        page.goto(f"{url}/app/imports")
        shoot(page, "imports")
        start = page.get_by_role("button", name="Start import")
        assert start.is_disabled()
        page.get_by_label("Rows are").select_option("orders")
        page.get_by_label(re.compile("^File")).set_input_files(
            files=[{"name": "spring.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()}]
        )
        # As orders, the header is refused: said before anything starts.
        playwright_api.expect(page.locator("#preview-problem")).to_contain_text("order_id")
        assert start.is_disabled()
        page.get_by_label("Rows are").select_option("customers")
        playwright_api.expect(page.locator("#preview-rows")).to_be_visible()
        assert not start.is_disabled()
        becomes = dict(
            zip(
                page.locator("#preview-columns tbody td:first-child").all_inner_texts(),
                page.locator("#preview-columns tbody td:nth-child(2)").all_inner_texts(),
                strict=True,
            )
        )
        assert becomes == {
            "customer_id": "customer_id",
            "name": "name",
            "email": "email",
            "tier": "attributes.tier attribute",
            "(unnamed)": "ignored",
        }
        previewed = {}
        for row in page.locator("#preview-rows tbody tr").all():
            cells = row.locator("td[data-field]")
            values = {c.get_attribute("data-field"): c.inner_text() for c in cells.all()}
            previewed[row.get_attribute("data-row")] = (
                values,
                row.locator(".problems").inner_text(),
            )
        assert set(previewed) == {"2", "3", "4", "5", "6"}
        assert previewed["4"][1].startswith("email: ")
        assert previewed["4"][0]["email"] == "not-an-email"  # a rejected row as it was given
        assert previewed["2"] == (
            {"customer_id": "i-1", "name": "Ines 1", "email": "i1@example.com",
             "phone": "", "total_spends": "", "last_visit_date": "", "visit_count": "",
             "opted_out": "", "timezone": "", "attributes.tier": "gold"},
            "—",
        )  # fmt: skip
        assert Ingestion.objects.count() == 0 and Customer.objects.count() == 0
        shoot(page, "import-preview", focus=page.locator("#preview-rows"))

        start.click()
        page.wait_for_url(re.compile(r"/app/imports/[0-9a-f]{24}$"))
        playwright_api.expect(page.locator("#import-status")).to_have_text("DONE", timeout=20_000)
        playwright_api.expect(page.locator('[data-count="inserted"]')).to_have_text("4")
        assert page.locator('[data-count="rejected"]').inner_text() == "1"
        rejected = page.locator("#import-rejections tbody tr")
        playwright_api.expect(rejected).to_have_count(1)
        row, field, value, reason = rejected.first.locator("td").all_inner_texts()
        assert (row, field, value) == ("4", "email", "not-an-email")
        assert reason in previewed["4"][1]
        stored = {c.customer_id: c for c in Customer.objects}
        assert sorted(stored) == ["i-1", "i-2", "i-4", "i-5"]
        for number, (values, _) in previewed.items():
            if number != "4":
                customer = stored[values["customer_id"]]
                assert (customer.name, customer.email) == (values["name"], values["email"])
                tier = values["attributes.tier"]
                assert customer.attributes == ({"tier": tier} if tier else {})
        shoot(page, "import")


def test_a_viewer_gets_no_upload_form_and_a_forced_upload_is_forbidden(app, page, accounts):
    from crm.documents import Ingestion

    with serve(app) as url:
        sign_in(page, url, "viewer", accounts["viewer"])
        page.wait_for_url(HOME)
        page.goto(f"{url}/app/imports")
        assert page.get_by_role("heading", name="Imports", exact=True).is_visible()
        assert page.locator("#import-form").count() == 0
        assert page.get_by_role("button", name="Start import").count() == 0
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        forced = page.request.post(
            f"{url}/app/imports",
            multipart={
                "csrf_token": token,
                "kind": "customers",
                "file": {"name": "x.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()},
            },
            max_redirects=0,
        )
        assert forced.status == 403
        assert Ingestion.objects.count() == 0


def test_a_scheduled_campaign_shows_its_start_and_can_be_unscheduled(app, page, accounts):
    from datetime import UTC, timedelta

    from crm.clock import utcnow
    from crm.services import campaigns

    send_at = (utcnow() + timedelta(days=1)).replace(second=0, microsecond=0)
    campaign = campaigns.create(
        {
            "name": "Later",
            "audience_id": _audience().id,
            "message": "Hi",
            "schedule": {"send_at": send_at.replace(tzinfo=UTC)},
        }
    )
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.goto(f"{url}/app/campaigns/{campaign.id}")
        page.get_by_role("button", name="Send").click()
        page.get_by_role("button", name=re.compile("^Schedule for")).click()
        playwright_api.expect(page.locator("#campaign-status")).to_have_text("SCHEDULED")
        start = send_at.strftime("%Y-%m-%d %H:%M")
        playwright_api.expect(page.locator("#campaign-schedule")).to_contain_text(start)
        page.get_by_role("button", name="Unschedule").click()
        playwright_api.expect(page.locator("#campaign-status")).to_have_text("DRAFT")
    assert campaigns.get(campaign.id).status == "DRAFT"


def _csrf(page):
    return page.locator('meta[name="csrf-token"]').get_attribute("content")


def _cookies(page):
    """A requests session signed in as ``page`` is, for requests at the same moment."""
    http = requests.Session()
    for cookie in page.context.cookies():
        http.cookies.set(cookie["name"], cookie["value"])
    return http


def test_a_test_message_reaches_the_vendor_once_and_touches_no_campaign(
    app, vendor, page, accounts, customers
):
    from crm.documents import Campaign, CommunicationLog, TestMessage
    from crm.services import campaigns

    audience = _audience()
    campaign = campaigns.create({"name": "Draft", "audience_id": audience.id, "message": "Hi"})
    text = "Hello {{ name }}, your code is {{ customer_id }}"
    with serve(app) as url, requests.Session() as vendor_http:
        app.config["CRM_SETTINGS"] = replace(
            app.config["CRM_SETTINGS"], vendor_url=vendor, public_url=url
        )
        sign_in(page, url, "marketer", accounts["marketer"])
        page.goto(f"{url}/app/campaigns/new?audience_id={audience.id}")
        page.get_by_label("Message", exact=True).fill(text)
        page.get_by_label("Customer id").fill("c-0003")
        page.get_by_role("button", name="Send test").click()
        result = page.locator("#test-result")
        playwright_api.expect(result).to_contain_text("ACCEPTED: to c3@example.com")
        playwright_api.expect(result).to_contain_text("Hello Carl 3, your code is c-0003")
        shoot(page, "composer-test-message", focus=result)
        sent = TestMessage.objects.get()
        assert deliveries(vendor_http, vendor, str(sent.id))["submissions"] == 1

        # The same key twice at once (a double click, a retry): one answer, nothing re-sent.
        body = {"idempotency_key": sent.key, "customer_id": "c-0003", "message": text}
        http, headers = _cookies(page), {"X-CSRF-Token": _csrf(page)}
        endpoint = f"{url}/app/campaigns/test-message"
        with ThreadPoolExecutor(2) as pool:
            answers = list(
                pool.map(lambda _: http.post(endpoint, json=body, headers=headers), range(2))
            )
        assert [a.status_code for a in answers] == [200, 200]
        assert {a.json()["status"] for a in answers} == {"ACCEPTED"}
        assert vendor_stats(vendor_http, vendor)["messages"] == 1
        assert TestMessage.objects.count() == 1
        reused = http.post(endpoint, json={**body, "customer_id": "c-0004"}, headers=headers)
        assert reused.status_code == 409 and "idempotency_key" in reused.json()["errors"]
        assert CommunicationLog.objects.count() == 0
        assert Campaign.objects.get(id=campaign.id).counts == {}

        page.context.clear_cookies()
        sign_in(page, url, "viewer", accounts["viewer"])
        page.goto(f"{url}/app/campaigns/new")
        assert "Not allowed" in page.get_by_role("heading").first.inner_text()
        forced = _cookies(page).post(
            endpoint,
            json={**body, "idempotency_key": "viewer-key-1"},
            headers={"X-CSRF-Token": _csrf(page)},
        )
        assert forced.status_code == 403
        assert vendor_stats(vendor_http, vendor)["messages"] == 1


def _figures(page, chart):
    """A chart's table alternative as {row label: {series: text}}."""
    rows = page.locator(f"#{chart}-table tbody tr")
    figures = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        cells = row.locator("td")
        figures[row.locator("th").text_content()] = {
            cells.nth(j).get_attribute("data-series"): cells.nth(j).text_content()
            for j in range(cells.count())
        }
    return figures


def test_the_dashboard_charts_the_last_90_days_and_counts_recent_campaigns_by_status(
    app, page, accounts, customers
):
    from crm.clock import utcnow
    from crm.documents import MessageStatus
    from crm.services import orders
    from tests.helpers.factories import counted_log, sending_campaign

    # Given orders today, 3 days ago (two customers' first orders) and 120 days ago.
    today = utcnow().date()
    placed = [
        ("o-1", "c-0001", "10.50", 0),
        ("o-2", "c-0001", "4.50", 0),
        ("o-3", "c-0002", "7.25", 3),
        ("o-4", "c-0003", "99.00", 120),
    ]
    for order_id, customer_id, amount, days_ago in placed:
        orders.record(
            {
                "order_id": order_id,
                "customer_id": customer_id,
                "order_amount": Decimal(amount),
                "order_date": datetime.combine(today - timedelta(days=days_ago), time()),
            }
        )
    campaign = sending_campaign(name="Weekend", audience_size=5)
    for i, status in enumerate([MessageStatus.SENT] * 3 + [MessageStatus.FAILED, "PENDING"]):
        counted_log(campaign, status, customer_id=f"c-{i + 1:04d}")

    with serve(app) as url:
        sign_in(page, url, "viewer", accounts["viewer"])
        page.wait_for_url(HOME)
        day = lambda back: (today - timedelta(days=back)).isoformat()  # noqa: E731
        orders_shown = _figures(page, "orders-chart")
        assert len(orders_shown) == 90 and list(orders_shown)[-1] == day(0)
        assert orders_shown[day(0)] == {"orders": "2"}
        assert orders_shown[day(3)] == {"orders": "1"}
        assert day(120) not in orders_shown
        assert _figures(page, "revenue-chart")[day(0)] == {"revenue": "15.00"}
        assert page.locator("#orders-90").inner_text() == "3"
        assert page.locator("#revenue-90").inner_text() == "22.25"
        new = _figures(page, "customers-chart")
        assert (new[day(0)], new[day(3)]) == ({"customers": "1"}, {"customers": "1"})
        assert sum(int(row["customers"]) for row in new.values()) == 2  # c-0003 began long ago
        bars = page.locator("#orders-chart svg rect")
        assert bars.count() == 2  # a bar for each day with orders

        row = page.locator(f'#campaign-table tr[data-campaign="{campaign.id}"]')
        counts = {
            key: row.locator(f'[data-count="{key}"]').text_content()
            for key in ("sent", "failed", "waiting", "cancelled")
        }
        assert counts == {"sent": "3", "failed": "1", "waiting": "1", "cancelled": "0"}
        shoot(page, "dashboard")


def test_a_generated_password_must_be_replaced_at_the_first_sign_in(app, browser, page):
    from crm.documents import User
    from crm.services import users

    _, generated = users.create("new@example.com", "marketer")  # as the Users page makes one
    chosen = "a long passphrase of my own"
    with serve(app) as url:
        other = browser.new_context().new_page()  # a second session, signed in before the change
        sign_in(other, url, "new", generated)
        sign_in(page, url, "new", generated)
        page.wait_for_url(re.compile(r"/app/password$"))
        assert page.locator("#password-forced").is_visible()
        shoot(page, "password")
        page.goto(f"{url}/app/customers")
        assert page.url.endswith("/app/password")  # nothing else until it is changed

        page.get_by_label("Current password").fill("not it")
        page.get_by_label("New password", exact=True).fill(chosen)
        page.get_by_label("New password again").fill(chosen)
        page.get_by_role("button", name="Change password").click()
        assert "Not the current password" in page.get_by_role("alert").inner_text()
        assert User.objects.get(email="new@example.com").must_change_password

        page.get_by_label("Current password").fill(generated)
        page.get_by_label("New password", exact=True).fill(chosen)
        page.get_by_label("New password again").fill(chosen)
        page.get_by_role("button", name="Change password").click()
        page.wait_for_url(HOME)
        assert page.get_by_role("alert").inner_text() == "Password changed."
        assert users.authenticate("new@example.com", generated) is None
        assert not users.authenticate("new@example.com", chosen).must_change_password
        other.goto(f"{url}/app/customers")
        assert "/app/sign-in" in other.url  # the session from before the change has ended
        other.context.close()
