"""Hostile input: every request here gets a 4xx in the one error shape and changes nothing
in any collection (compared whole, before and after)."""

import pytest
from bson import ObjectId

from crm.schemas.fields import MAX_MONEY
from tests.helpers.database import database_contents
from tests.helpers.http import assert_error
from tests.helpers.ingestion import wait_for

CUSTOMER = {"customer_id": "c1", "name": "Asha", "email": "asha@example.com"}
RECEIPT_PATHS = ["/api/sendCampaign/deliveryReceipt", "/api/sendCampaign/deliveryReceipts"]
DEEP = b"[" * 50_000 + b"]" * 50_000
LONG_INTEGER = b'{"customer_id": ' + b"9" * 5_000 + b"}"


@pytest.fixture
def audience(client):
    client.post("/api/customers", json=CUSTOMER)
    rules = [{"field": "visit_count", "operator": ">=", "value": 0}]
    return client.post("/api/audiences", json={"rules": rules}).json["id"]


@pytest.fixture
def unchanged(client, audience):
    """Fails the test if any collection changed during it."""
    client.get("/api/customers")  # the key's last_used_at is written once, now
    before = database_contents()
    yield
    assert database_contents() == before


def json_operations(audience):
    return [
        ("POST", "/api/customers"),
        ("POST", "/api/orders"),
        ("POST", "/api/audiences"),
        ("POST", "/api/audiences/preview"),
        ("PATCH", f"/api/audiences/{audience}"),
        ("POST", "/api/campaign"),
        ("POST", "/api/sendCampaign"),
        ("POST", "/api/keys"),
    ]


@pytest.mark.parametrize("path", RECEIPT_PATHS)
@pytest.mark.parametrize(
    "timestamp", ["²", "9" * 400, "9" * 5_000, "\uff11\uff12\uff13", "-1", "1e9"]
)
def test_unreadable_receipt_timestamps_are_401(anonymous, unchanged, path, timestamp):
    headers = {"X-Signature-Timestamp": timestamp, "X-Signature": "sha256=00"}
    response = anonymous.post(path, json={"receipts": []}, headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_unreadable_timestamps_count_toward_the_throttle(anonymous, settings, unchanged):
    headers = {"X-Signature-Timestamp": "²", "X-Signature": "sha256=00"}
    for _ in range(settings.auth_failures_per_minute):
        assert_error(anonymous.post(RECEIPT_PATHS[1], json={}, headers=headers), 401)
    assert_error(anonymous.post(RECEIPT_PATHS[1], json={}, headers=headers), 429)


@pytest.mark.parametrize(
    "body",
    [DEEP, LONG_INTEGER, b'{"name": NaN}', b'{"name": Infinity}', b"\xff\xfe{}"],
    ids=["nested-50000-deep", "5000-digit-integer", "NaN", "Infinity", "not-utf8"],
)
def test_unparseable_json_is_400_on_every_json_endpoint(client, audience, unchanged, body):
    for method, path in json_operations(audience):
        response = client.open(path, method=method, data=body, content_type="application/json")
        assert assert_error(response, 400) == {"json": ["Invalid JSON body."]}, path


def test_unparseable_signed_receipts_are_400(anonymous, unchanged):
    from crm import config, signatures

    for path in RECEIPT_PATHS:
        headers = signatures.sign(config.load().receipt_signing_secret, DEEP)
        response = anonymous.post(path, data=DEEP, content_type="application/json", headers=headers)
        assert_error(response, 400)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('"attributes": {"a": 9223372036854775808}', "attributes"),
        ('"attributes": {"a": -9223372036854775809}', "attributes"),
        ('"attributes": {"a": 1e400}', "attributes"),
        ('"attributes": {"a": "\\ud800"}', "attributes"),
        ('"attributes": {"a": "x\\u0000y"}', "attributes"),
        ('"name": "Asha\\ud800"', "name"),
        ('"name": "Asha\\u0000"', "name"),
        ('"name": "Asha\\u001b[31m"', "name"),
        ('"name": "Asha\\nKhan"', "name"),
        ('"email": "a\\udfff@example.com"', "email"),
    ],
)
def test_values_mongodb_cannot_store_are_422(client, unchanged, raw, field):
    body = '{"customer_id": "c2", "email": "b@example.com", "name": "B", ' + raw + "}"
    body = body.replace('"email": "b@example.com", ', "") if raw.startswith('"email"') else body
    body = body.replace('"name": "B", ', "") if raw.startswith('"name"') else body
    response = client.post("/api/customers", data=body, content_type="application/json")
    assert field in assert_error(response, 422)["json"]


def test_unknown_field_named_with_a_lone_surrogate_is_422(client, unchanged):
    body = '{"customer_id": "c2", "name": "B", "email": "b@example.com", "\\ud800": 1}'
    response = client.post("/api/customers", data=body, content_type="application/json")
    assert_error(response, 422)


def test_a_message_may_hold_newlines_but_not_nul(client, audience):
    body = {"audience_id": audience, "message": "Hi {{name}},\n\tthanks!"}
    assert client.post("/api/campaign", json=body).status_code == 201
    before = database_contents()
    body["message"] = "Hi\u0000"
    assert "message" in assert_error(client.post("/api/campaign", json=body), 422)["json"]
    body["message"] = "Hi\u0007"
    assert "message" in assert_error(client.post("/api/campaign", json=body), 422)["json"]
    assert database_contents() == before


@pytest.mark.parametrize(
    "path",
    [
        "/api/customers",
        "/api/orders",
        "/api/audiences",
        "/api/audience",
        "/api/campaign",
        "/api/keys",
        f"/api/campaign/{ObjectId()}/logs",
    ],
)
def test_huge_page_is_422_on_every_list(client, unchanged, path):
    for query in ("page=1921071147216293632", "page=100001", "page_size=101", "page=0"):
        errors = assert_error(client.get(f"{path}?{query}"), 422)
        assert set(errors["query"]) <= {"page", "page_size"}


def test_order_that_would_pass_the_spend_maximum_is_409(client, audience):
    client.post("/api/customers", json={**CUSTOMER, "total_spends": float(MAX_MONEY) - 10})
    before = database_contents()
    order = {"order_id": "o1", "customer_id": "c1", "order_amount": 11, "order_date": "2024-01-01"}
    errors = assert_error(client.post("/api/orders", json=order), 409)
    assert "order_amount" in errors["json"]
    assert database_contents() == before
    order["order_amount"] = 10
    assert client.post("/api/orders", json=order).status_code == 201
    assert client.get("/api/customers/c1").json["total_spends"] == float(MAX_MONEY)


def test_patch_without_a_body_is_422(client, audience, unchanged):
    assert_error(client.patch(f"/api/audiences/{audience}"), 422)
    assert_error(client.patch(f"/api/audiences/{audience}", json={}), 422)


def test_empty_rules_are_refused_as_the_schema_says(client, audience, unchanged):
    spec = client.get("/openapi.json").json["components"]["schemas"]
    assert spec["RuleTree"]["properties"]["rules"]["minItems"] == 1
    assert spec["AudienceUpdate"]["minProperties"] == 1
    for method, path in [
        ("POST", "/api/audiences"),
        ("POST", "/api/audiences/preview"),
        ("PATCH", f"/api/audiences/{audience}"),
    ]:
        response = client.open(path, method=method, json={"rules": []})
        assert "rules" in assert_error(response, 422)["json"], path


def test_undeclared_method_is_405_with_allow(client, unchanged):
    response = client.open("/api/customers", method="TRACE")
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) >= {"GET", "POST"}


@pytest.mark.parametrize(
    "url",
    [
        "/api/customers?email[$ne]=x",
        "/api/customers?page=1&pgae_size=5",
        "/api/customers/c1?expand=orders",
        "/api/audiences?x=1",
        "/api/orders?customer_id=c1&customer_id[$gt]=",
    ],
)
def test_unknown_query_parameters_are_422(client, unchanged, url):
    errors = assert_error(client.get(url), 422)
    assert errors["query"]
    assert all(message == ["Unknown field."] for message in errors["query"].values())


def test_unknown_query_parameters_are_422_on_writes_too(client, audience, unchanged):
    response = client.post(f"/api/audiences/{audience}/refresh?force=1")
    assert "force" in assert_error(response, 422)["query"]


@pytest.mark.parametrize("value", ["a%00b", "%1b%5b31m", "%ED%A0%80"])
def test_control_characters_in_query_values_are_422(client, unchanged, value):
    errors = assert_error(client.get(f"/api/customers?email={value}"), 422)
    assert "email" in errors["query"]


@pytest.mark.parametrize(
    "path", ["/api/customers/c%001", "/api/orders/%1b", "/api/customers/" + "x" * 65]
)
def test_path_ids_that_cannot_exist_are_404(client, unchanged, path):
    assert_error(client.get(path), 404)


def ndjson(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def test_bulk_rows_mongodb_cannot_store_are_rejected_rows(client, worker):
    body = ndjson(
        '{"customer_id": "c1", "name": "Asha", "email": "asha@example.com"}',
        '{"customer_id": "c2", "name": "B\\ud800", "email": "b@example.com"}',
        '{"customer_id": "c3", "name": "C", "email": "c@example.com", "attributes": {"a": 1e400}}',
        '{"customer_id": "c4", "name": "D", "email": "d@example.com", '
        '"attributes": {"a": 9223372036854775808}}',
        '{"customer_id": "c5", "name": "E\\u0000", "email": "e@example.com"}',
    )
    response = client.post("/api/customers/bulk", data=body, content_type="application/x-ndjson")
    job = wait_for(client, response)
    assert job["status"] == "DONE", job
    assert job["counts"]["inserted"] == 1 and job["counts"]["rejected"] == 4
    assert [r["row"] for r in job["rejections"]] == [2, 3, 4, 5]
    assert client.get("/api/customers").json[0]["customer_id"] == "c1"
    values = {r["row"]: r["errors"][0].get("value") for r in job["rejections"]}
    # Kept as far as they can be: a lone surrogate as ?, a control character as its escape
    assert values[2] == "B?" and values[5] == "E\\u0000"
    download = client.get(f"/api/ingestions/{job['id']}/rejections")
    assert download.status_code == 200 and download.get_data(as_text=True).count("\n") == 5


def test_bulk_csv_cells_with_control_characters_are_rejected_rows(client, worker):
    body = b"customer_id,name,email\nc1,Asha,asha@example.com\nc2,B\x00b,b@example.com\n"
    job = wait_for(client, client.post("/api/customers/bulk", data=body, content_type="text/csv"))
    assert job["counts"]["inserted"] == 1 and job["rejections"][0]["row"] == 3
