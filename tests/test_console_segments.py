"""The segment builder in a real browser: an empty or invalid value is an error named at
its rule, clearing the size and sample of rules no longer on screen; rule rows keep a
usable value box on a phone."""

import re

import pytest

from devstack.embedded import serve
from tests import test_console
from tests.test_console import CHROMIUM, HOME, sign_in

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

# The browser, its page, the signed-up users and customers, as the console's own tests have them.
browser, page = test_console.browser, test_console.page
accounts, customers = test_console.accounts, test_console.customers
expect = playwright_api.expect


def test_empty_and_invalid_values_are_errors_at_their_rule_and_clear_the_preview(
    app, page, accounts, customers
):
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.wait_for_url(HOME)
        page.goto(f"{url}/app/audiences/new")
        rule = page.locator("#builder .rule").first
        rule.get_by_label("Field").select_option("visit_count")
        rule.get_by_label("Operator").select_option(">=")
        value = rule.get_by_label("Value")
        problem = page.locator("#audience-error")
        size = page.locator("#audience-size")

        value.fill("")
        expect(problem).to_contain_text("Rule 1: value must not be empty")
        assert "rules[" not in problem.inner_text()
        expect(size).to_have_text("—")
        expect(value).to_have_attribute("aria-invalid", "true")  # the error is at its input

        value.fill("5")  # visit_count is i % 10: 5, 6, 7, 8, 9 twice each
        expect(size).to_have_text("10")
        expect(page.locator("#audience-sample tbody tr")).to_have_count(10)
        assert value.get_attribute("aria-invalid") is None

        value.fill("five")
        expect(problem).to_contain_text("Rule 1: value")
        expect(size).to_have_text("—")
        expect(page.locator("#audience-sample tbody tr")).to_have_count(0)
        assert page.locator("#audience-summary").inner_text() == ""


def test_rule_rows_keep_a_usable_value_box_on_a_phone(app, page, accounts):
    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.wait_for_url(HOME)
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{url}/app/audiences/new")
        rule = page.locator("#builder .rule").first
        rule.get_by_label("Field").select_option("orders.count")
        box = rule.get_by_label("Value").bounding_box()
        assert box["width"] >= 120, box
        assert box["x"] + box["width"] <= 390
        test_console.shoot(page, "segment-builder-phone")
        assert re.search(r"/app/audiences/new\?form=[0-9a-f]{24}$", page.url)
