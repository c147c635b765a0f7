"""The adapter that reads Dramatiq's Redis layout (crm/queue/layout.py), held to the
Dramatiq release it was written for and run against the test Redis."""

import re
import time
from pathlib import Path

import dramatiq

from crm.queue import handles
from crm.queue.broker import INGESTION
from crm.queue.layout import WRITTEN_FOR, Broker

ROOT = Path(__file__).resolve().parent.parent


def pinned_dramatiq() -> str:
    found = re.search(r"^dramatiq\[redis\]==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert found is not None
    return found.group(1)


def test_the_layout_was_written_for_the_pinned_and_installed_dramatiq():
    assert pinned_dramatiq() == WRITTEN_FOR
    assert dramatiq.__version__ == WRITTEN_FOR


def test_every_handle_names_an_actor_the_workers_declare_on_its_queue(broker):
    for handle in handles.ALL:
        assert broker.get_actor(handle.actor_name).queue_name == handle.queue_name


def a_worker(broker: Broker, heartbeat_timeout: int = 60_000) -> Broker:
    """Another worker process's broker on the same Redis (a broker id of its own)."""
    other = Broker(client=broker.client, heartbeat_timeout=heartbeat_timeout)
    other.declare_queue(INGESTION)
    return other


def take(consumer: dramatiq.broker.Consumer) -> dramatiq.broker.MessageProxy:
    for _ in range(50):
        message = next(consumer)
        if message is not None:
            return message
    raise AssertionError("no message came")


def test_a_message_is_in_its_queue_from_sent_until_acknowledged(broker):
    waiting = handles.INGEST_CHUNK.send("job-a", 0)
    delayed = handles.INGEST_CHUNK.send("job-b", 0, delay_ms=60_000)
    assert broker.in_queue(INGESTION, [waiting, delayed, "never-sent"]) == {waiting, delayed}

    worker = a_worker(broker)
    consumer = worker.consume(INGESTION, prefetch=1, timeout=100)
    held = take(consumer)
    assert held.options["redis_message_id"] == waiting
    assert broker.in_queue(INGESTION, [waiting]) == {waiting}  # being worked on
    consumer.ack(held)
    assert broker.in_queue(INGESTION, [waiting, delayed]) == {delayed}


def test_a_message_a_dead_worker_held_goes_back_to_its_queue(broker):
    sent = handles.INGEST_CHUNK.send("job-c", 0)
    dead = a_worker(broker)
    take(dead.consume(INGESTION, timeout=100))  # and then it dies: no more beats
    judge = a_worker(broker, heartbeat_timeout=1)
    time.sleep(0.01)  # the dead one's beat is now older than the judge's timeout

    assert dead.broker_id in judge.dead_workers()
    assert judge.give_back_from_dead_workers([dead.broker_id]) == 1
    assert (
        take(a_worker(broker).consume(INGESTION, timeout=100)).options["redis_message_id"] == sent
    )
