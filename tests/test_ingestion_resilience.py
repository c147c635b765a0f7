"""Imports stay exact when chunks are redelivered, applied concurrently to the same
customers, or cut short by a worker killed mid-import; orders may arrive before their
customers."""

import json
import os
import random
import signal
import time
from collections import defaultdict
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import dramatiq
import pymongo
import pytest
from dramatiq.brokers.redis import MAINTENANCE_SCALE, RedisBroker

import workers.ingestion
from crm.documents import Customer, IngestionChunk, Order, ParkedOrder
from crm.queue import broker as worker_broker
from crm.queue import handles
from crm.services.ingestion import sweep
from devstack.stack import start_worker
from tests.helpers.ingestion import upload, wait_for
from tests.helpers.polling import eventually

# A worker process refuses to start without these; this one imports and sends nothing.
NO_SENDING = {"CRM_PUBLIC_URL": "http://127.0.0.1:9", "CRM_VENDOR_URL": "http://127.0.0.1:9"}


@pytest.fixture
def settings(settings):
    return replace(settings, ingest_chunk_size=25, ingest_park_seconds=30)


def customers_csv(count):
    rows = [f"k{i:03},Customer {i},k{i}@example.com" for i in range(count)]
    return "customer_id,name,email\n" + "\n".join(rows) + "\n"


def random_orders(count, customers, seed=1):
    rng = random.Random(seed)
    return [
        {
            "order_id": f"o{i:05}",
            "customer_id": f"k{rng.randrange(customers):03}",
            "order_amount": f"{rng.randrange(100, 100_000) / 100:.2f}",
            "order_date": f"2024-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}",
        }
        for i in range(count)
    ]


def ndjson(records):
    return "".join(json.dumps(record) + "\n" for record in records)


def store_chunk(ingestion_id, number, orders):
    rows = [[row, order] for row, order in enumerate(orders, 1)]
    IngestionChunk(ingestion_id=ingestion_id, number=number, rows=rows).save()


def assert_aggregates_exact(orders):
    """Every customer's spend, visits, days and order facts are exactly its orders'."""
    expected = defaultdict(list)
    for order in orders:
        expected[order["customer_id"]].append(order)
    for customer in Customer.objects(customer_id__in=list(expected)):
        placed = expected[customer.customer_id]
        assert customer.total_spends == sum(Decimal(o["order_amount"]) for o in placed)
        assert customer.visit_count == len(placed) == customer.order_count
        assert sum(day["count"] for day in customer.order_days.values()) == len(placed)
        days = sorted(o["order_date"] for o in placed)
        assert customer.first_order_date.date().isoformat() == days[0]
        assert customer.last_order_date.date().isoformat() == days[-1]
    assert Order.objects.count() == len(orders)


def test_concurrent_chunks_moving_the_same_customers_stay_exact(client, worker):
    # Given three customers, and 300 orders among them: 4 chunks each, 8 worker threads
    wait_for(client, upload(client, "customers", customers_csv(3), "text/csv"))
    orders = random_orders(300, customers=3)

    job = wait_for(client, upload(client, "orders", ndjson(orders), "application/x-ndjson"))

    assert job["status"] == "DONE"
    assert job["counts"]["inserted"] == 300 and job["counts"]["duplicates"] == 0
    assert_aggregates_exact(orders)


def test_a_redelivered_chunk_changes_nothing(client, worker, broker):
    wait_for(client, upload(client, "customers", customers_csv(5), "text/csv"))
    orders = random_orders(30, customers=5)
    job = wait_for(client, upload(client, "orders", ndjson(orders), "application/x-ndjson"))

    # The queue hands the first chunk over again, as after a worker lost its ack, while
    # the chunk is still stored (as it is until its job ends).
    store_chunk(job["id"], 0, orders[:25])
    workers.ingestion.ingest_chunk.send(job["id"], 0)
    broker.join("ingestion")

    again = client.get(f"/api/ingestions/{job['id']}").json
    assert again["counts"] == job["counts"] and again["counts"]["inserted"] == 30
    assert_aggregates_exact(orders)


def test_orders_before_their_customers_wait_and_then_apply(client, worker):
    orders = random_orders(40, customers=4)

    parked = wait_for(client, upload(client, "orders", ndjson(orders), "application/x-ndjson"))
    assert parked["status"] == "DONE"
    assert parked["counts"]["parked"] == 40 and parked["counts"]["inserted"] == 0
    assert Order.objects.count() == 0

    wait_for(client, upload(client, "customers", customers_csv(4), "text/csv"))

    settled = client.get(f"/api/ingestions/{parked['id']}").json["counts"]
    assert (settled["parked"], settled["inserted"], settled["valid"]) == (0, 40, 40)
    assert ParkedOrder.objects.count() == 0
    assert_aggregates_exact(orders)


def test_parked_orders_apply_when_the_customer_is_posted_or_are_rejected(
    client, worker, settings, monkeypatch
):
    worker_broker.setup(replace(settings, ingest_park_seconds=1.5))
    body = ndjson(
        [
            {
                "order_id": "late",
                "customer_id": "late",
                "order_amount": 5,
                "order_date": "2024-05-01",
            },
            {
                "order_id": "never",
                "customer_id": "nobody",
                "order_amount": 7,
                "order_date": "2024-05-01",
            },
        ]
    )
    job = wait_for(client, upload(client, "orders", body, "application/x-ndjson"))
    assert job["counts"]["parked"] == 2

    # The customer of the first order arrives through the single-record endpoint.
    new = {"customer_id": "late", "name": "Late", "email": "late@example.com"}
    assert client.post("/api/customers", json=new).status_code == 201

    def settled():
        current = client.get(f"/api/ingestions/{job['id']}").json
        return current if current["counts"]["parked"] == 0 else None

    final = eventually(settled, timeout=30, interval=0.1)
    assert (final["counts"]["inserted"], final["counts"]["rejected"]) == (1, 1)
    assert client.get("/api/customers/late").json["total_spends"] == 5
    [rejection] = final["rejections"]
    assert rejection["row"] == 2 and rejection["errors"][0]["field"] == "customer_id"
    assert "nobody" in rejection["errors"][0]["message"]


def requeue_messages_of_dead_workers(queue):
    """What Dramatiq does by itself once a worker's heartbeat is a minute old (at a
    one-in-a-thousand chance per command), done now."""
    sweeper = RedisBroker(
        url=os.environ["CRM_REDIS_URL"], heartbeat_timeout=1, maintenance_chance=MAINTENANCE_SCALE
    )
    time.sleep(0.01)
    for name in (queue, f"{queue}.DQ"):
        sweeper.do_qsize(name)
    sweeper.close()


@pytest.mark.system
def test_worker_killed_mid_import_then_restarted_counts_each_order_once(
    client, app, settings, broker, tmp_path
):
    wait_for_customers = upload(client, "customers", customers_csv(40), "text/csv")
    env = {**os.environ, "CRM_MONGODB_URI": settings.mongodb_uri, **NO_SENDING}
    worker = start_worker(env, tmp_path / "worker.log")
    try:
        wait_for(client, wait_for_customers)
        orders = random_orders(2000, customers=40)
        response = upload(client, "orders", ndjson(orders), "application/x-ndjson")
        assert response.status_code == 202

        # When the worker dies by SIGKILL part-way through the chunks (about 100)
        def progress():
            return client.get(response.headers["Location"]).json["progress"]

        def midway():
            done = progress()
            return 5 <= done["chunks_done"] <= done["chunks"] - 20

        wait_for(client, response, status=("RUNNING",), timeout=60)
        eventually(midway, timeout=60, interval=0.01, describe=lambda: str(progress()))
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

        # its open transaction is ended, as the server would after a minute, its unacked
        # messages go back on the queue, and a new worker starts
        with pymongo.MongoClient(settings.mongodb_uri) as mongo:
            mongo.admin.command("killAllSessions", [])
        requeue_messages_of_dead_workers("ingestion")
        worker = start_worker(env, tmp_path / "worker2.log")

        # Then every order is counted once
        job = wait_for(client, response, timeout=120)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
    assert job["status"] == "DONE", job
    assert job["counts"]["inserted"] == 2000 and job["counts"]["duplicates"] == 0
    assert job["progress"]["chunks_done"] == job["progress"]["chunks"]
    assert_aggregates_exact(orders)


def test_retries_of_parked_orders_survive_a_worker_dying_before_scheduling_them(
    client, worker, broker, settings, monkeypatch
):
    worker_broker.setup(replace(settings, ingest_park_seconds=60))
    monkeypatch.setattr(workers.ingestion.parking, "FIRST_RETRY_MS", 100)
    orders = random_orders(10, customers=2)
    job = wait_for(client, upload(client, "orders", ndjson(orders), "application/x-ndjson"))
    assert job["status"] == "DONE" and job["counts"]["parked"] == 10
    # As if the worker had died after finishing the job but before scheduling the retries:
    # no retry is queued, and the last chunk comes again.
    worker.stop()
    broker.flush("ingestion")
    for i in range(2):
        body = {"customer_id": f"k{i:03}", "name": f"K{i}", "email": f"k{i}@example.com"}
        assert client.post("/api/customers", json=body).status_code == 201
    restarted = dramatiq.Worker(broker, queues={"ingestion"}, worker_threads=2, worker_timeout=100)
    restarted.start()
    try:
        store_chunk(job["id"], 0, orders)
        workers.ingestion.ingest_chunk.send(job["id"], 0)

        def settled():
            counts = client.get(f"/api/ingestions/{job['id']}").json["counts"]
            return counts if counts["parked"] == 0 else None

        counts = eventually(settled, timeout=30, interval=0.1)
    finally:
        restarted.stop()
    assert counts["inserted"] == 10
    assert_aggregates_exact(orders)


def test_chunks_the_queue_lost_are_queued_again_by_the_sweep(client, broker, settings, monkeypatch):
    worker_broker.setup(settings)
    response = upload(client, "customers", customers_csv(60), "text/csv")
    job_id = response.json["id"]
    lost = (workers.ingestion.in_queue, handles.enqueue_import_chunk)
    # Chunks long idle whose messages still wait in the queue are not lost
    assert sweep.requeue_lost_chunks(timedelta(0), *lost) == 0
    assert broker.client.hlen(f"{broker.namespace}:ingestion.msgs") == 3
    # No worker took them, and Redis comes back empty.
    broker.flush("ingestion")
    assert sweep.requeue_lost_chunks(timedelta(hours=1), *lost) == 0  # not idle yet
    assert sweep.requeue_lost_chunks(timedelta(0), *lost) == 3

    restarted = dramatiq.Worker(broker, queues={"ingestion"}, worker_threads=2, worker_timeout=100)
    restarted.start()
    try:
        job = wait_for(client, response)
    finally:
        restarted.stop()
    assert job["status"] == "DONE" and job["counts"]["inserted"] == 60
    assert not IngestionChunk.objects(ingestion_id=job_id)  # dropped once the job is done
