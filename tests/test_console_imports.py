"""Imports in a real browser: a wide file's preview scrolls from the keyboard and passes
axe; a customer given twice is shown as rejected with its value; every rejected row
downloads as CSV, for marketers only."""

import csv
import io
import re

import pytest

from devstack.embedded import serve
from tests import test_console
from tests.test_console import CHROMIUM, HOME, shoot, sign_in

# The browser, its page and the signed-up users, as the console's own tests have them.
browser, page, accounts = test_console.browser, test_console.page, test_console.accounts

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")

ATTRIBUTES = [f"attribute_with_a_long_name_{i:02d}" for i in range(20)]
WIDE_CSV = (
    "\n".join(
        [
            ",".join(["customer_id", "name", "email", *ATTRIBUTES]),
            ",".join(["w-1", "Wide One", "w1@example.com", *(f"value {i}" for i in range(20))]),
            ",".join(["w-2", "Wide Two", "w2@example.com", *("" for _ in range(20))]),
            ",".join(["w-1", "Wide Again", "again@example.com", *("x" for _ in range(20))]),
        ]
    )
    + "\n"
)


def test_a_wide_preview_scrolls_from_the_keyboard_and_a_repeated_customer_is_rejected(
    app, worker, page, accounts
):
    from crm.documents import Customer

    with serve(app) as url:
        sign_in(page, url, "marketer", accounts["marketer"])
        page.wait_for_url(HOME)
        page.goto(f"{url}/app/imports")
        page.get_by_label(re.compile("^File")).set_input_files(
            files=[{"name": "wide.csv", "mimeType": "text/csv", "buffer": WIDE_CSV.encode()}]
        )
        region = page.get_by_role("region", name=re.compile("First rows as they will be stored"))
        playwright_api.expect(region).to_be_visible()
        # The row giving w-1 again is shown as the import will treat it.
        repeated = page.locator('#preview-rows tbody tr[data-row="4"] .problems')
        assert "on row 2 already" in repeated.inner_text()
        # Wider than the page: the region scrolls, and from the keyboard.
        assert region.evaluate("box => box.scrollWidth > box.clientWidth")
        region.focus()
        page.keyboard.press("End")
        page.keyboard.press("ArrowRight")
        page.keyboard.press("ArrowRight")
        playwright_api.expect(region).to_have_js_property("tabIndex", 0)
        assert region.evaluate("box => box.scrollLeft") > 0
        shoot(page, "import-preview-wide", focus=region)

        page.get_by_role("button", name="Start import").click()
        page.wait_for_url(re.compile(r"/app/imports/[0-9a-f]{24}$"))
        playwright_api.expect(page.locator("#import-status")).to_have_text("DONE", timeout=20_000)
        assert page.locator('[data-count="duplicates"]').inner_text() == "1"
        rejected = page.locator("#import-rejections tbody tr")
        playwright_api.expect(rejected).to_have_count(1)
        row, field, value, reason = rejected.first.locator("td").all_inner_texts()
        assert (row, field, value) == ("4", "customer_id", "w-1")
        assert "only that row is imported" in reason
        assert Customer.objects.get(customer_id="w-1").name == "Wide One"
        shoot(page, "import-rejected")

        with page.expect_download() as download:
            page.get_by_role("link", name=re.compile("Download every rejected row")).click()
        text = download.value.path().read_text(encoding="utf-8")
        [line] = list(csv.DictReader(io.StringIO(text)))
        assert (line["row"], line["reason"], line["value"]) == ("4", "duplicate_in_file", "w-1")
        import_page = page.url

        page.context.clear_cookies()
        sign_in(page, url, "viewer", accounts["viewer"])
        page.wait_for_url(HOME)
        page.goto(import_page)
        assert page.get_by_role("link", name=re.compile("Download every rejected")).count() == 0
        forced = page.request.get(f"{import_page}/rejected.csv")
        assert forced.status == 403 and "w-1" not in forced.text()
