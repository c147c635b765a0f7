"""API key scopes: admin ⊃ write ⊃ read, enforced on every operation and documented."""

import mongoengine
import pytest
from pymongo.errors import OperationFailure

from crm.documents.api_key import ApiKey
from crm.services import api_keys
from crm.services.errors import Forbidden
from crm.store import api_keys as api_key_store
from tests.helpers.database import database_contents
from tests.helpers.http import assert_error

CUSTOMER = {"customer_id": "c1", "name": "Asha", "email": "asha@example.com"}


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keys(app, api_key):
    """One key of each scope (``api_key``, the admin, is there too)."""
    return {scope: api_keys.create(scope, scope)[1] for scope in ("read", "write")} | {
        "admin": api_key
    }


def test_read_keys_read_and_nothing_else(anonymous, keys):
    read = bearer(keys["read"])
    assert anonymous.get("/api/customers", headers=read).status_code == 200
    assert anonymous.head("/api/customers", headers=read).status_code == 200
    before = database_contents()
    response = anonymous.post("/api/customers", json=CUSTOMER, headers=read)
    assert_error(response, 403)
    assert "write is needed" in response.json["message"]
    assert_error(anonymous.get("/api/keys", headers=read), 403)
    assert database_contents() == before


def test_write_keys_write_but_do_not_manage_keys(anonymous, keys):
    write = bearer(keys["write"])
    assert anonymous.post("/api/customers", json=CUSTOMER, headers=write).status_code == 201
    before = database_contents()
    assert_error(anonymous.get("/api/keys", headers=write), 403)
    assert_error(anonymous.post("/api/keys", json={"name": "x"}, headers=write), 403)
    admin_id = str(ApiKey.objects(scope="admin").first().id)
    assert_error(anonymous.delete(f"/api/keys/{admin_id}", headers=write), 403)
    assert database_contents() == before


def test_keys_are_created_with_a_scope_read_by_default(client):
    default = client.post("/api/keys", json={"name": "dashboard"})
    assert default.status_code == 201 and default.json["scope"] == "read"
    writer = client.post("/api/keys", json={"name": "shop", "scope": "write"})
    assert writer.json["scope"] == "write"
    listed = {k["name"]: k["scope"] for k in client.get("/api/keys").json}
    assert listed == {"tests": "admin", "dashboard": "read", "shop": "write"}
    assert_error(client.post("/api/keys", json={"name": "x", "scope": "root"}), 422)


def test_the_last_admin_key_cannot_be_revoked(client, anonymous):
    only_admin = ApiKey.objects.get(scope="admin")
    client.get("/api/keys")  # its last_used_at is written now
    before = database_contents()
    assert "last admin key" in client.delete(f"/api/keys/{only_admin.id}").json["message"]
    assert_error(client.delete(f"/api/keys/{only_admin.id}"), 409)
    assert database_contents() == before

    second = client.post("/api/keys", json={"name": "second", "scope": "admin"}).json
    assert client.delete(f"/api/keys/{only_admin.id}").status_code == 200
    assert_error(anonymous.delete(f"/api/keys/{second['id']}", headers=bearer(second["key"])), 409)


def test_a_key_cannot_revoke_a_wider_one(app, anonymous, keys):
    # Only admin keys reach /api/keys, so a narrower one is refused before revoke runs;
    # the service's own rule covers callers that are not the API.
    read_key = api_keys.authenticate(keys["read"])
    admin = ApiKey.objects(scope="admin").first()
    with pytest.raises(Forbidden, match="cannot revoke a key of scope admin"):
        api_keys.revoke(admin.id, by=read_key)
    assert ApiKey.objects.get(id=admin.id).revoked_at is None


def test_keys_stored_without_a_scope_are_admin_keys(anonymous, api_key):
    ApiKey._get_collection().update_many({}, {"$unset": {"scope": 1}})
    response = anonymous.get("/api/keys", headers=bearer(api_key))
    assert response.status_code == 200 and response.json[0]["scope"] == "admin"


def test_every_operation_documents_its_scope_and_403(client):
    paths = client.get("/openapi.json").json["paths"]
    checked = 0
    for path, item in paths.items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            if operation.get("security") == [{"vendorSignature": []}]:
                assert "x-scope" not in operation
                continue
            expected = (
                "admin" if path.startswith("/api/keys") else "read" if method == "get" else "write"
            )
            assert operation["x-scope"] == expected, (method, path)
            assert f"scope `{expected}`" in operation["description"]
            assert "403" in operation["responses"]
            checked += 1
    assert checked >= 35


def test_revoking_the_last_two_admin_keys_at_once_leaves_one(anonymous, api_key):
    first = ApiKey.objects.get(scope="admin")
    second, second_text = api_keys.create("second", "admin")
    connection = mongoengine.get_connection()
    now = ApiKey.objects.get(id=first.id).created_at
    with connection.start_session() as one, connection.start_session() as other:
        one.start_transaction()
        other.start_transaction()
        api_key_store.revoke_admin(first.id, now, one)
        with pytest.raises(OperationFailure) as conflict:
            api_key_store.revoke_admin(second.id, now, other)
        assert conflict.value.has_error_label("TransientTransactionError")
        other.abort_transaction()
        one.commit_transaction()
    # The conflicting revocation, retried as the API retries it, finds itself the last.
    response = anonymous.delete(f"/api/keys/{second.id}", headers=bearer(second_text))
    assert_error(response, 409)
    assert ApiKey.objects(revoked_at=None, scope="admin").count() == 1
