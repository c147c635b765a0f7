"""The attribute key catalogue: kept as customers are written, listed without reading them."""

import time

from crm.documents import AttributeKey, Customer
from crm.services.attribute_keys import REBUILD_ID, REBUILDS
from tests.helpers.commands import listen

BULK_CSV = """customer_id,name,email,tier,joined
b1,Asha Rao,asha@example.com,gold,2023-04-01
b2,Ben Ito,ben@example.com,silver,2022-11-30
"""


def attributes(client):
    return {a["field"]: a["types"] for a in client.get("/api/audiences/fields").json["attributes"]}


def import_customers(client, body):
    response = client.post("/api/customers/bulk", data=body, content_type="text/csv")
    assert response.status_code == 202, response.json
    deadline = time.monotonic() + 60
    while client.get(response.headers["Location"]).json["status"] != "DONE":
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_keys_written_by_post_and_by_import_are_listed_without_reading_customers(
    client, worker, settings
):
    # Given customers written one by one and by a bulk import
    one = {"customer_id": "c1", "name": "A", "email": "a@b.co"}
    client.post("/api/customers", json={**one, "attributes": {"city": "Pune", "vip": True}})
    client.post("/api/customers", json={**one, "attributes": {"city": 7, "since": "2024-01-02"}})
    import_customers(client, BULK_CSV)
    commands = listen(settings)

    # When the catalogue is asked for
    listed = attributes(client)

    # Then it has every key with every type seen, and no command touched customers
    assert listed == {
        "attributes.city": ["number", "string"],
        "attributes.joined": ["date"],
        "attributes.since": ["date"],
        "attributes.tier": ["string"],
        "attributes.vip": ["bool"],
    }
    assert "customers" not in commands.collections
    assert "attribute_keys" in commands.collections


def test_rebuild_fills_the_catalogue_resumes_and_restarts(app, client):
    # Given customers written around the catalogue (as before it existed)
    Customer._get_collection().insert_many(
        {"customer_id": f"c{i}", "name": "N", "email": "a@b.co", "attributes": {f"k{i}": i}}
        for i in range(5)
    )
    AttributeKey(key="gone", types=["string"]).save()
    cli = app.test_cli_runner()

    result = cli.invoke(args=["attributes", "rebuild", "--batch-size", "2"])
    assert result.exit_code == 0, result.output
    assert "5 customers: 5 attribute keys" in result.output
    assert attributes(client) == {f"attributes.k{i}": ["number"] for i in range(5)}
    assert cli.invoke(args=["attributes", "rebuild"]).exit_code == 0  # again: the same
    assert attributes(client) == {f"attributes.k{i}": ["number"] for i in range(5)}

    # An interrupted rebuild (stopped after the third customer) carries on from there
    AttributeKey.objects.delete()
    third = Customer._get_collection().find_one({"customer_id": "c2"})["_id"]
    rebuilds = Customer._get_collection().database[REBUILDS]
    rebuilds.insert_one({"_id": REBUILD_ID, "after": third})
    assert "from 2 customers" in cli.invoke(args=["attributes", "rebuild"]).output
    assert set(attributes(client)) == {"attributes.k3", "attributes.k4"}
    assert rebuilds.find_one({"_id": REBUILD_ID}) is None
    cli.invoke(args=["attributes", "rebuild", "--restart"])
    assert len(attributes(client)) == 5
