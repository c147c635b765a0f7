"""API keys, signed receipts, the authentication throttle, CORS and security headers."""

import hmac
import time
from dataclasses import replace

import pytest
import requests
from bson import ObjectId

from crm import create_app, signatures
from crm.services import api_keys
from devstack.embedded import serve
from tests.helpers.http import assert_error
from tests.helpers.signing import post_signed

RECEIPT = "/api/sendCampaign/deliveryReceipt"


def assert_401(response):
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    return response.json["message"]


def test_api_needs_a_key_but_health_and_docs_do_not(anonymous):
    assert_401(anonymous.get("/api/customers"))
    assert anonymous.get("/health").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200


@pytest.mark.parametrize(
    "header",
    ["", "Bearer", "Bearer nonsense", "Basic abc", "Bearer crm_000000000000_wrong", "Token {key}"],
)
def test_wrong_keys_all_get_the_same_answer(anonymous, api_key, header):
    response = anonymous.get(
        "/api/customers", headers={"Authorization": header.format(key=api_key)}
    )
    assert assert_401(response) == "A valid API key is required: Authorization: Bearer <key>."


def test_right_prefix_wrong_secret_is_refused(anonymous, api_key):
    forged = api_key.rsplit("_", 1)[0] + "_" + "x" * 43
    assert_401(anonymous.get("/api/customers", headers={"Authorization": f"Bearer {forged}"}))


def test_keys_are_compared_in_constant_time(app, api_key, monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: calls.append(1) or real(a, b))
    assert api_keys.authenticate(api_key) is not None
    assert api_keys.authenticate(api_key[:-1] + "x") is None
    assert len(calls) == 2


def test_key_lifecycle_over_the_api(client, anonymous):
    created = client.post("/api/keys", json={"name": "crm-ui"})
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith("crm_")

    listed = client.get("/api/keys").json
    assert {k["name"] for k in listed} == {"tests", "crm-ui"}
    assert all("key" not in k and "secret_hash" not in k for k in listed)

    headers = {"Authorization": f"Bearer {key}"}
    assert anonymous.get("/api/customers", headers=headers).status_code == 200
    assert client.get("/api/keys").json[0]["last_used_at"] is not None

    revoked = client.delete(f"/api/keys/{created.json['id']}")
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert_401(anonymous.get("/api/customers", headers=headers))
    assert client.delete(f"/api/keys/{ObjectId()}").status_code == 404


def test_only_a_hash_of_the_key_is_stored(app, api_key):
    from crm.documents.api_key import ApiKey

    stored = ApiKey.objects.get().to_mongo().to_dict()
    secret = api_key.rsplit("_", 1)[1]
    assert all(secret not in str(value) for value in stored.values())


def test_cli_creates_lists_and_revokes_keys(app):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["keys", "create", "ops"])
    assert created.exit_code == 0 and created.output.startswith("crm_")
    assert "scope admin" in created.output
    key_id = created.output.split("(key ")[1].split(",")[0]
    reader = runner.invoke(args=["keys", "create", "dashboard", "--scope", "read"])
    assert "scope read" in reader.output
    listing = runner.invoke(args=["keys", "list"]).output
    assert any("ops" in line and "admin" in line for line in listing.splitlines())
    assert any("dashboard" in line and "read" in line for line in listing.splitlines())

    last_admin = runner.invoke(args=["keys", "revoke", key_id])
    assert last_admin.exit_code == 1 and "last admin key" in last_admin.output
    runner.invoke(args=["keys", "create", "ops-2"])
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    assert api_keys.authenticate(created.output.split()[0]) is None


def test_repeated_failures_are_throttled(anonymous, settings):
    for _ in range(settings.auth_failures_per_minute):
        assert_401(anonymous.get("/api/customers", headers={"Authorization": "Bearer bad"}))
    throttled = anonymous.get("/api/customers", headers={"Authorization": "Bearer bad"})
    assert_error(throttled, 429)


def test_a_valid_key_passes_while_its_address_is_throttled(app, api_key, settings):
    with serve(app) as url:
        bad, good = ({"Authorization": f"Bearer {key}"} for key in ("crm_x_guess", api_key))
        # Given an address whose failures went past the limit
        for _ in range(settings.auth_failures_per_minute):
            assert requests.get(f"{url}/api/customers", headers=bad).status_code == 401
        assert requests.get(f"{url}/api/customers", headers=bad).status_code == 429
        # Then the valid key from that same address is served, and guessing stays refused
        assert requests.get(f"{url}/api/customers", headers=good).status_code == 200
        assert requests.get(f"{url}/api/customers", headers=bad).status_code == 429


def test_key_failures_do_not_throttle_receipts_nor_the_other_way_round(anonymous, settings):
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    for _ in range(settings.auth_failures_per_minute + 1):
        anonymous.get("/api/customers", headers={"Authorization": "Bearer bad"})
    assert post_signed(anonymous, RECEIPT, body).status_code == 404
    assert_401(anonymous.post(RECEIPT, json=body))
    for _ in range(settings.auth_failures_per_minute):
        anonymous.post(RECEIPT, json=body)
    assert anonymous.post(RECEIPT, json=body).status_code == 429
    assert post_signed(anonymous, RECEIPT, body).status_code == 404


@pytest.mark.parametrize("hops, other_client_status", [(0, 429), (1, 401)])
def test_behind_a_trusted_proxy_one_client_does_not_lock_out_another(
    settings, broker, hops, other_client_status
):
    app = create_app(replace(settings, trusted_proxy_hops=hops))
    client = app.test_client()

    def guess(client_address):
        headers = {"Authorization": "Bearer bad", "X-Forwarded-For": client_address}
        return client.get("/api/customers", headers=headers).status_code

    for _ in range(settings.auth_failures_per_minute + 1):
        guess("203.0.113.5")
    assert guess("203.0.113.5") == 429
    # Untrusted, the header is ignored and both are the proxy's address; trusted, they differ.
    assert guess("203.0.113.6") == other_client_status


def test_signed_receipt_passes_and_unknown_id_is_404(anonymous):
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    assert post_signed(anonymous, RECEIPT, body).status_code == 404


def test_unsigned_receipt_is_refused(anonymous):
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    assert_401(anonymous.post(RECEIPT, json=body))


def test_tampered_receipt_is_refused(anonymous):
    body = {"communication_log_id": str(ObjectId()), "status": "FAILED"}
    raw = (
        b'{"communication_log_id": "%s", "status": "SENT"}' % body["communication_log_id"].encode()
    )
    headers = signatures.sign("test-signing-secret", raw)
    tampered = anonymous.post(RECEIPT, json=body, headers=headers)
    assert_401(tampered)


def test_replayed_receipt_is_refused(anonymous):
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    ten_minutes_ago = int(time.time()) - 600
    assert_401(post_signed(anonymous, RECEIPT, body, timestamp=ten_minutes_ago))


def test_receipt_signed_with_another_secret_is_refused(anonymous):
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    assert_401(post_signed(anonymous, RECEIPT, body, secret="not-the-secret"))


def test_unsigned_seed_receipts_only_when_signing_is_off(settings, broker):
    app = create_app(replace(settings, receipt_signatures_required=False))
    body = {"communication_log_id": str(ObjectId()), "status": "SENT"}
    assert app.test_client().post(RECEIPT, json=body).status_code == 404


def test_security_headers_and_no_cors_by_default(client):
    response = client.get("/api/customers", headers={"Origin": "https://evil.example"})
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_for_configured_origins_only(settings, broker):
    app = create_app(replace(settings, cors_origins="https://crm.example"))
    client = app.test_client()
    preflight = client.options("/api/customers", headers={"Origin": "https://crm.example"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://crm.example"
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    other = client.options("/api/customers", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_swagger_ui_can_authorize(client):
    spec = client.get("/openapi.json").json
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    assert spec["security"] == [{"apiKey": []}]
    receipt = spec["paths"][RECEIPT]["post"]
    assert receipt["security"] == [{"vendorSignature": []}]
