"""CSV the product writes: a cell a spreadsheet would run as a formula is written as text,
and exporting customer data is for marketers and admins, not viewers."""

import csv
import io

import pytest

from crm.documents import MessageStatus
from crm.services.csv_cells import spreadsheet_safe
from tests.helpers.console import signed_in
from tests.helpers.factories import counted_log, sending_campaign

FORMULAS = ["=1+2", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_starting_like_a_formula_gets_a_quote_in_front(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain", "a=b", "", "1.5", "x-1", "'quoted"])
def test_other_cells_are_written_as_they_are(cell):
    assert spreadsheet_safe(cell) == cell


def test_the_logs_export_writes_formula_cells_as_text(app):
    campaign = sending_campaign(name="Export")
    counted_log(campaign, MessageStatus.FAILED, customer_id="@evil", reason="=HYPERLINK(1)")
    counted_log(campaign, MessageStatus.SENT, customer_id="-1")
    marketer = signed_in(app, "marketer")

    exported = marketer.get(f"/app/campaigns/{campaign.id}/logs.csv")

    assert exported.status_code == 200
    rows = {r["to"]: r for r in csv.DictReader(io.StringIO(exported.get_data(as_text=True)))}
    assert rows["'@evil@example.com"]["customer_id"] == "'@evil"
    assert rows["'@evil@example.com"]["reason"] == "'=HYPERLINK(1)"
    assert rows["'-1@example.com"]["customer_id"] == "'-1"


@pytest.mark.parametrize("role", ["marketer", "admin"])
def test_marketers_and_admins_may_export_logs(app, role):
    campaign = sending_campaign(name="Export")
    counted_log(campaign, MessageStatus.SENT)
    user = signed_in(app, role)
    assert user.get(f"/app/campaigns/{campaign.id}/logs.csv").status_code == 200
    assert "csv-export" in user.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)


def test_a_viewer_may_not_export_nor_sees_the_export_button(app):
    campaign = sending_campaign(name="Export")
    counted_log(campaign, MessageStatus.SENT)
    viewer = signed_in(app, "viewer")

    refused = viewer.get(f"/app/campaigns/{campaign.id}/logs.csv")

    assert refused.status_code == 403
    assert "c1@example.com" not in refused.get_data(as_text=True)
    assert "csv-export" not in viewer.get(f"/app/campaigns/{campaign.id}").get_data(as_text=True)
