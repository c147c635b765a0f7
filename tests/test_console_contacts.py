"""The console's customers (in-process): search anywhere in an id, a name or an e-mail,
taken literally; a suppressed customer's profile says so; an unknown console address is
the console's 404 page."""

import pytest

from crm.services import customers, suppressions
from tests.helpers.console import signed_in


@pytest.fixture
def viewer(app):
    for customer_id, name, email in [
        ("north-001", "Joanna Smith", "jo@shop.example"),
        ("south-002", "Bob Annan", "bob@mail.example"),
        ("west-003", "Carl Ng", "carl@ANNEX.example"),
    ]:
        customers.upsert({"customer_id": customer_id, "name": name, "email": email})
    return signed_in(app, "viewer")


def found(client, query):
    page = client.get("/app/customers", query_string={"q": query}).get_data(as_text=True)
    return {cid for cid in ("north-001", "south-002", "west-003") if f">{cid}<" in page}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ANN", {"north-001", "south-002", "west-003"}),  # inside a name, any case; an e-mail
        ("001", {"north-001"}),  # the end of an id
        ("mail.ex", {"south-002"}),  # inside an e-mail, the dot a dot
        ("h-0", {"north-001", "south-002"}),
    ],
)
def test_search_matches_anywhere_ignoring_case(viewer, query, expected):
    assert found(viewer, query) == expected


@pytest.mark.parametrize("query", [".*", "^b", "(", "[a-z]+", "\\"])
def test_search_text_is_taken_literally_never_as_a_pattern(viewer, query):
    response = viewer.get("/app/customers", query_string={"q": query})
    assert response.status_code == 200
    assert found(viewer, query) == set()


def test_a_suppressed_customers_profile_says_suppressed(viewer):
    suppressions.add("CARL@annex.example", "bounced")
    page = viewer.get("/app/customers/west-003").get_data(as_text=True)
    consent = page.split('id="customer-consent">', 1)[1].split("</dd>", 1)[0]
    assert consent.startswith("Suppressed") and "bounced" in consent
    other = viewer.get("/app/customers/north-001").get_data(as_text=True)
    assert 'id="customer-consent">Subscribed' in other


def test_an_unknown_console_address_is_the_consoles_404_page(viewer, client):
    missing = viewer.get("/app/no-such-page")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "Not found" in missing.get_data(as_text=True)
    api = client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.json["code"] == 404
