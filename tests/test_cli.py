"""``flask import`` and ``flask demo-data``: the bulk pipeline from a shell, with real
worker threads on the test Redis."""

import csv
from dataclasses import replace
from decimal import Decimal

import pytest

from crm.documents import Customer, Ingestion, Order


@pytest.fixture
def settings(settings):
    return replace(settings, ingest_chunk_size=50)


@pytest.fixture
def flask(app):
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=[str(arg) for arg in args])


def test_demo_data_writes_realistic_files_and_loads_them(flask, worker, tmp_path):
    result = flask("demo-data", "--customers", 40, "--orders", 150, "--out", tmp_path, "--load")

    assert result.exit_code == 0, result.output
    assert result.output.count(": DONE") == 2
    with (tmp_path / "orders.csv").open() as file:
        orders = list(csv.DictReader(file))
    with (tmp_path / "customers.csv").open() as file:
        customers = list(csv.DictReader(file))
    assert len(customers) == 40 and len(orders) == 150
    assert {"name", "email", "phone", "city", "channel"} <= set(customers[0])
    assert Customer.objects.count() == 40 and Order.objects.count() == 150
    spent = sum(customer.total_spends for customer in Customer.objects)
    assert spent == sum(Decimal(order["order_amount"]) for order in orders)
    assert Customer.objects.first().attributes.keys() == {"city", "channel"}


def test_demo_data_if_empty_leaves_a_database_with_customers_alone(flask, client, tmp_path):
    client.post("/api/customers", json={"customer_id": "c1", "name": "A", "email": "a@b.co"})
    result = flask("demo-data", "--if-empty", "--load", "--out", tmp_path)
    assert result.exit_code == 0 and "no demo data" in result.output
    assert not (tmp_path / "customers.csv").exists()


def test_import_reports_counts_and_rejected_rows(flask, worker, tmp_path):
    path = tmp_path / "export.csv"
    path.write_text("customer_id,name,email\nc1,A,a@b.co\nc2,B,nope\nc1,A,a@b.co\n")

    result = flask("import", "customers", path)

    assert result.exit_code == 0, result.output
    assert "Reading export.csv" in result.output
    assert "customers import" in result.output and ": DONE" in result.output
    assert "received 3, valid 1, rejected 2, inserted 1, updated 0, duplicates 1" in result.output
    assert "row 3: email: Not a valid email address." in result.output


def test_import_without_waiting_just_queues(flask, tmp_path):
    path = tmp_path / "orders.ndjson"
    path.write_text(
        '{"order_id": "o1", "customer_id": "c1", "order_amount": 5, "order_date": "2024-01-01"}\n'
    )
    result = flask("import", "orders", path, "--no-wait")
    assert result.exit_code == 0, result.output
    assert ": QUEUED" in result.output and "chunks queued: 1" in result.output
    assert Ingestion.objects.get().format == "ndjson"


def test_import_of_a_file_that_is_not_records_fails_with_the_reason(flask, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    result = flask("import", "customers", path)
    assert result.exit_code == 1
    assert "not UTF-8 text" in result.output
    assert Ingestion.objects.count() == 0
    assert flask("import", "customers", tmp_path / "missing.csv").exit_code == 2
