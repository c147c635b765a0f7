"""An order import costs what its rows cost, however many customers there are; a chunk
whose transaction cannot finish in time is applied in smaller parts; and a long import
never holds back a campaign sending at the same time."""

import json
import os
import random
import signal
import sys
from contextlib import contextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import dramatiq
import pytest
from bson import Decimal128
from pymongo import MongoClient, monitoring

from crm import db
from crm.documents import Customer, IngestionBatch, Order
from crm.queue import broker as worker_broker
from devstack import embedded
from devstack.stack import IMPORT_QUEUES, SENDING_QUEUES, start_worker
from tests.helpers.factories import new_campaign
from tests.helpers.ingestion import upload, wait_for
from tests.helpers.polling import wait_until_finished

# A worker process refuses to start without these; the importer sends nothing.
NO_SENDING = {"CRM_PUBLIC_URL": "http://127.0.0.1:9", "CRM_VENDOR_URL": "http://127.0.0.1:9"}


class CustomerCommands(monitoring.CommandListener):
    """The filters of every update and find the process sends to ``customers``."""

    def __init__(self):
        self.filters = []

    def started(self, event):
        command = event.command
        if event.command_name == "update" and command["update"] == "customers":
            self.filters += [statement["q"] for statement in command["updates"]]
        if event.command_name == "find" and command["find"] == "customers":
            self.filters.append(command.get("filter", {}))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def add_raw_customers(count):
    Customer._get_collection().insert_many(
        {
            "customer_id": f"k{n:05}",
            "name": f"Customer {n}",
            "email": f"k{n}@example.com",
            "total_spends": Decimal128("0"),
            "visit_count": 0,
            "opted_out": False,
        }
        for n in range(count)
    )


def orders_for(customer_ids, count):
    rng = random.Random(3)
    return [
        {
            "order_id": f"o{n:05}",
            "customer_id": rng.choice(customer_ids),
            "order_amount": f"{rng.randrange(100, 10_000) / 100:.2f}",
            "order_date": f"2024-{rng.randrange(1, 13):02}-{rng.randrange(1, 29):02}",
        }
        for n in range(count)
    ]


def ndjson(records):
    return "".join(json.dumps(record) + "\n" for record in records)


def assert_spends_are_the_orders(orders):
    expected = {}
    for order in orders:
        spent, visits = expected.get(order["customer_id"], (Decimal(0), 0))
        expected[order["customer_id"]] = (spent + Decimal(order["order_amount"]), visits + 1)
    found = Customer.objects(customer_id__in=list(expected))
    assert {c.customer_id: (c.total_spends, c.visit_count) for c in found} == expected
    assert Order.objects.count() == len(orders)


def plan_of(collection, query):
    """The winning plan of ``query`` and the documents it examined."""
    explained = collection.database.command(
        "explain", {"find": collection.name, "filter": query}, verbosity="executionStats"
    )
    return str(explained["queryPlanner"]["winningPlan"]), explained["executionStats"]


def test_an_order_import_examines_only_its_customers_among_50000(client, settings, worker):
    # Given 50,000 customers
    add_raw_customers(50_000)
    commands = CustomerCommands()
    db.connect(settings, [commands])

    # When 400 orders for some 200 of them are imported
    orders = orders_for([f"k{n:05}" for n in random.Random(5).sample(range(50_000), 200)], 400)
    buyers = {order["customer_id"] for order in orders}
    response = upload(client, "orders", ndjson(orders), "application/x-ndjson")
    job = wait_for(client, response, timeout=300)

    # Then every read and write of a customer is an index scan of the customers it names
    assert job["status"] == "DONE" and job["counts"]["inserted"] == 400, job
    assert len(commands.filters) >= len(buyers)
    customers = Customer._get_collection()
    examined = 0
    for query in commands.filters:
        plan, stats = plan_of(customers, query)
        assert "IXSCAN" in plan and "customer_id_1" in plan, (query, plan)
        named = query["customer_id"]
        assert stats["totalDocsExamined"] <= (len(named["$in"]) if "$in" in named else 1)
        examined += stats["totalDocsExamined"]
    assert examined <= 2 * len(buyers) + 50
    assert_spends_are_the_orders(orders)


@pytest.fixture(scope="module")
def failpoint_server(tmp_path_factory):
    """A MongoDB-protocol server of its own that takes ``configureFailPoint``."""
    port = embedded.free_port()
    server = Path(sys.executable).parent / "secantusd-py"
    command = [str(server), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", ":memory:", "--log-level", "WARNING", "--enable-test-commands"]
    process = embedded.spawn(command, tmp_path_factory.mktemp("mongo") / "mongo.log")
    embedded.wait_for_port(port, process, timeout=60)
    yield f"mongodb://127.0.0.1:{port}"
    embedded.stop([process])


def fail_importer_commands(server, mode, **data):
    """Make the server fail or stall the importer process's commands."""
    with MongoClient(server) as mongo:
        mongo.admin.command(
            {
                "configureFailPoint": "failCommand",
                "mode": mode,
                "data": {"appName": "importer", **data},
            }
        )


@contextmanager
def importer(settings, log_dir, **variables):
    """A worker process on the import queue, its commands named ``importer``."""
    env = {
        **os.environ,
        **NO_SENDING,
        "CRM_MONGODB_URI": f"{settings.mongodb_uri}?appName=importer",
        **variables,
    }
    process = start_worker(env, log_dir / "importer.log", IMPORT_QUEUES)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class TestOnAServerThatFailsTheImporter:
    @pytest.fixture
    def settings(self, settings, failpoint_server):
        database = settings.mongodb_uri.rsplit("/", 1)[1]
        return replace(
            settings, mongodb_uri=f"{failpoint_server}/{database}", ingest_chunk_size=100
        )

    def test_a_database_out_of_reach_for_more_than_five_tries_does_not_fail_the_import(
        self, client, app, settings, broker, failpoint_server, tmp_path
    ):
        # Given customers, and every connection the importer opens dropped six tries long
        # (each read is tried twice by the driver)
        add_raw_customers(20)
        fail_importer_commands(
            failpoint_server, {"times": 12}, failCommands=["find"], closeConnection=True
        )
        with importer(settings, tmp_path):
            # When orders are imported
            orders = orders_for([f"k{n:05}" for n in range(20)], 50)
            response = upload(client, "orders", ndjson(orders), "application/x-ndjson")
            job = wait_for(client, response, timeout=120)

        # Then the import waited the outage out and applied every order once
        assert job["status"] == "DONE", job
        assert job["counts"]["inserted"] == 50 and job["error"] is None
        assert_spends_are_the_orders(orders)

    def test_a_failed_import_resumes_and_applies_each_order_once(
        self, client, app, settings, broker, failpoint_server, tmp_path
    ):
        # Given an import whose chunk failed five times for a reason that is not transient
        add_raw_customers(20)
        fail_importer_commands(failpoint_server, {"times": 5}, failCommands=["insert"], errorCode=2)
        with importer(settings, tmp_path):
            orders = orders_for([f"k{n:05}" for n in range(20)], 50)
            response = upload(client, "orders", ndjson(orders), "application/x-ndjson")
            failed = wait_for(client, response, timeout=120)
            assert failed["status"] == "FAILED" and "resume" in failed["error"], failed
            assert failed["counts"]["inserted"] == 0

            # When it is resumed
            resumed = client.post(f"/api/ingestions/{failed['id']}/resume")
            assert resumed.status_code == 202, resumed.json
            assert resumed.json["status"] == "RUNNING" and resumed.json["error"] is None
            job = wait_for(client, resumed, timeout=120)

        # Then it is DONE with every order applied once, and cannot be resumed again
        assert job["status"] == "DONE" and job["counts"]["inserted"] == 50, job
        assert_spends_are_the_orders(orders)
        again = client.post(f"/api/ingestions/{failed['id']}/resume")
        assert again.status_code == 409 and again.json["code"] == 409

    def test_a_chunk_too_slow_for_its_transaction_is_applied_in_parts_while_a_campaign_sends(
        self, client, app, settings, broker, vendor, failpoint_server, tmp_path
    ):
        # Given customers, a campaign to them, sending workers, and an importer process
        # whose transactions may take 1 s
        add_raw_customers(60)
        with (
            importer(settings, tmp_path, CRM_INGEST_TRANSACTION_SECONDS="1"),
            embedded.serve(app) as api_url,
        ):
            worker_broker.setup(
                replace(settings, vendor_url=vendor, public_url=api_url, send_chunk_size=7)
            )
            sender = dramatiq.Worker(broker, queues=set(SENDING_QUEUES), worker_threads=2)
            sender.start()
            try:
                campaign_id = new_campaign(client)
                # the importer's first insert (its first chunk's first statement) stalls
                # for 3 s: that chunk cannot commit within 1 s
                fail_importer_commands(
                    failpoint_server,
                    {"times": 1},
                    failCommands=["insert"],
                    blockConnection=True,
                    blockTimeMS=3000,
                )

                # When the campaign is sent while 300 orders are imported
                sent = client.post("/api/sendCampaign", json={"campaign_id": campaign_id})
                assert sent.status_code == 202
                orders = orders_for([f"k{n:05}" for n in range(60)], 300)
                response = upload(client, "orders", ndjson(orders), "application/x-ndjson")
                job = wait_for(client, response, timeout=180)
                campaign = wait_until_finished(client, campaign_id, timeout=120)
            finally:
                sender.stop()

        # Then the stalled chunk was applied in parts, every order exactly once
        assert job["status"] == "DONE", job
        assert job["counts"]["inserted"] == 300 and job["counts"]["duplicates"] == 0, job
        assert job["progress"]["chunks_done"] == job["progress"]["chunks"]
        assert IngestionBatch.objects(key__contains=":rows:").count() >= 2
        assert_spends_are_the_orders(orders)
        # and the campaign sent meanwhile reached everyone
        stats = campaign["stats"]
        assert stats["total"] == 60 and stats["sent"] + stats["failed"] == 60
