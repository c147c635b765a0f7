"""Import chunks close at a byte budget as well as a row count, and settling parked orders
reads only the customers a chunk brings."""

import io
import json
import math
from dataclasses import replace
from datetime import datetime

import bson
import pytest
from bson import Decimal128, ObjectId
from pymongo import monitoring

from crm import config, db
from crm.documents import Customer, ParkedOrder
from crm.services.ingestion import intake, parking
from tests.helpers.ingestion import upload, wait_for

BUDGET = 40_000
MAX_DOCUMENT = 16 * 1024 * 1024


@pytest.fixture
def settings(settings):
    return replace(settings, ingest_chunk_size=2000, ingest_chunk_bytes=BUDGET)


def wide_customer(n):
    """A customer row of ~8 KB: 30 attributes of 256 characters."""
    attributes = {f"a{k}": f"{n:04}" + "x" * 252 for k in range(30)}
    return {
        "customer_id": f"w{n:03}",
        "name": "Wide",
        "email": "w@shop.in",
        "attributes": attributes,
    }


def test_wide_rows_are_cut_into_chunks_under_the_byte_budget(client, worker):
    rows = [wide_customer(n) for n in range(30)]
    body = "\n".join(json.dumps(row) for row in rows)

    job = wait_for(client, upload(client, "customers", body, "application/x-ndjson"))

    assert job["status"] == "DONE", job
    assert job["counts"]["inserted"] == 30
    encoded = sum(len(json.dumps([1, row], separators=(",", ":"))) for row in rows)
    assert job["progress"]["chunks"] >= math.ceil(encoded / BUDGET) > 1
    stored = Customer.objects(customer_id="w017").first()
    assert stored.attributes["a29"].startswith("0017")


def test_chunks_at_the_default_budget_fit_in_a_document():
    # 2,000 rows of ~8 KB: one chunk by rows alone would pass 16 MiB
    budget = config.Settings().ingest_chunk_bytes
    line = json.dumps([1, wide_customer(1)], separators=(",", ":")).encode() + b"\n"
    partitions = [io.BytesIO(line * 1000), io.BytesIO(line * 1000)]

    chunks = list(intake._chunks(partitions, 2000, budget))

    assert sum(len(chunk) for chunk in chunks) == 2000
    assert len(chunks) == math.ceil(2000 * len(line) / budget)
    for chunk in chunks:
        size = len(bson.encode({"rows": chunk, "ingestion_id": ObjectId(), "number": 1}))
        assert size < budget + 64 * 1024 < MAX_DOCUMENT


class Distincts(monitoring.CommandListener):
    """How many values each ``distinct`` on parked_orders returned."""

    def __init__(self):
        self.returned = []

    def started(self, event):
        pass

    def succeeded(self, event):
        if event.command_name == "distinct":
            self.returned.append(len(event.reply["values"]))

    def failed(self, event):
        pass


def test_settling_looks_up_only_the_arriving_customers(app, settings):
    # Given many orders parked for customers that have not come
    ingestion_id = ObjectId()
    ParkedOrder._get_collection().insert_many(
        {
            "order_id": f"p{n}",
            "customer_id": f"absent{n % 500}",
            "order_amount": Decimal128("5.00"),
            "order_date": datetime(2024, 1, 1),
            "ingestion_id": ingestion_id,
            "row": n,
            "parked_at": datetime(2024, 1, 2),
        }
        for n in range(1500)
    )
    listener = Distincts()
    db.connect(settings, event_listeners=[listener])

    # When two customers arrive, one of them awaited
    settled = parking.settle_customers(["absent7", "nobody"])

    # Then the look-up returned only those among them, not every waiting customer
    assert listener.returned == [1]
    assert settled == 0  # absent7 is not created: its orders wait on
    assert ParkedOrder.objects(customer_id="absent7").count() == 3
