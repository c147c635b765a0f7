"""A customer given twice in one upload, and an import's rejected rows: each kept with the
value that was refused and why, and downloadable as CSV."""

import csv
import io

from crm.documents import Customer
from tests.helpers.ingestion import upload, wait_for

REPEATED = """customer_id,name,email,tier
r1,First Row,first@example.com,gold
r2,Other,other@example.com,
r1,Second Row,second@example.com,silver
"""


def test_a_customer_id_repeated_in_one_upload_rejects_the_later_row(client, worker):
    job = wait_for(client, upload(client, "customers", REPEATED, "text/csv"))

    assert job["counts"] == {
        "received": 3,
        "valid": 2,
        "rejected": 1,
        "inserted": 2,
        "updated": 0,
        "duplicates": 1,
        "parked": 0,
    }
    [rejection] = job["rejections"]
    assert rejection["row"] == 4 and rejection["reason"] == "duplicate_in_file"
    [error] = rejection["errors"]
    assert (error["field"], error["value"]) == ("customer_id", "r1")
    assert "row 2" in error["message"]
    # The earlier row is the one stored, untouched by the later.
    stored = Customer.objects.get(customer_id="r1")
    assert (stored.name, stored.email, stored.attributes) == (
        "First Row",
        "first@example.com",
        {"tier": "gold"},
    )


def test_every_rejected_row_downloads_as_csv_with_its_value_and_reason(client, worker):
    # Given more rejected rows than a job lists (100), one of them a formula.
    lines = ["customer_id,name,email"]
    lines += [f"bad-{i:03d},Bad {i},not-an-email-{i}" for i in range(150)]
    lines += ["ok-1,Fine,ok@example.com", "formula,F,=HYPERLINK(1)", "ok-1,Again,a@example.com"]
    job = wait_for(client, upload(client, "customers", "\n".join(lines) + "\n", "text/csv"))
    assert job["counts"]["rejected"] == 152 and len(job["rejections"]) == 100

    response = client.get(f"/api/ingestions/{job['id']}/rejections")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 152
    assert [int(row["row"]) for row in rows] == sorted(int(row["row"]) for row in rows)
    first = rows[0]
    assert (first["row"], first["field"], first["value"], first["reason"]) == (
        "2",
        "email",
        "not-an-email-0",
        "invalid",
    )
    assert first["message"]
    by_value = {row["value"]: row for row in rows}
    assert by_value["'=HYPERLINK(1)"]["field"] == "email"  # a formula is never a formula
    repeated = by_value["ok-1"]
    assert (repeated["row"], repeated["reason"]) == ("154", "duplicate_in_file")


def test_the_rejections_download_is_documented_and_404s_for_an_unknown_import(client):
    spec = client.get("/openapi.json").json
    operation = spec["paths"]["/api/ingestions/{ingestion_id}/rejections"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    missing = client.get("/api/ingestions/0123456789abcdef01234567/rejections")
    assert missing.status_code == 404 and missing.json["code"] == 404


def test_a_refused_control_character_is_shown_as_its_escape(client, worker):
    body = '[{"customer_id": "c1", "name": "A\\u0085B\\u0001", "email": "a@example.com"}]'
    job = wait_for(client, upload(client, "customers", body, "application/json"))

    [rejection] = job["rejections"]
    [error] = rejection["errors"]
    assert (error["field"], error["value"]) == ("name", "A\\u0085B\\u0001")
