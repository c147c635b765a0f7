"""Counters and durations recorded by any process (workers above all) into one Redis hash,
and read back as Prometheus metric families when the API is scraped.

Recording is one round trip and never raises: a metric lost to a Redis hiccup must not
fail a send. Names are recorded without the ``crm_`` prefix and ``_total`` suffix, which
the scrape adds: ``count("receipts_applied", 40)`` is ``crm_receipts_applied_total``.
"""

import json
import logging
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

log = logging.getLogger(__name__)

KEY = "crm:metrics"
PREFIX = "crm_"
# Seconds: a vendor chunk takes tens of milliseconds, a large materialisation minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
HELP = {
    "receipts_applied": "Delivery receipts that moved a message to SENT or FAILED.",
    "sweep_actions": "Repairs made by the sweeps, by action.",
    "worker_messages_processed": "Queue messages a worker finished handling, by actor.",
    "worker_messages_failed": "Queue messages that failed for good (no retry left), by actor.",
    "worker_messages_retried": "Queue messages that failed and were queued again, by actor.",
    "worker_message_duration_seconds": "Time a worker spent on a queue message, by actor.",
}

_client: redis.Redis | None = None


def count(name: str, n: int = 1, **labels: str) -> None:
    """Add ``n`` to the counter ``name`` with these labels."""
    if n:
        _record([(_field("counter", name, labels), n)], [])


def observe(name: str, seconds: float, **labels: str) -> None:
    """Record one duration into the histogram ``name``."""
    bucket = next((str(b) for b in BUCKETS if seconds <= b), "+Inf")
    _record(
        [
            (_field("bucket", name, {**labels, "le": bucket}), 1),
            (_field("count", name, labels), 1),
        ],
        [(_field("sum", name, labels), seconds)],
    )


def _field(kind: str, name: str, labels: dict[str, str]) -> str:
    return json.dumps([kind, name, sorted(labels.items())])


def use(client: redis.Redis) -> None:
    """Record into ``client``: the process's Redis client, set at boot."""
    global _client
    _client = client


def _record(increments: list[tuple[str, int]], sums: list[tuple[str, float]]) -> None:
    if _client is None:
        return
    try:
        pipe = _client.pipeline(transaction=False)
        for field, n in increments:
            pipe.hincrby(KEY, field, n)
        for field, value in sums:
            pipe.hincrbyfloat(KEY, field, value)
        pipe.execute()
    except Exception as error:  # a metric is never worth a failed send
        log.warning("metrics not recorded: %s", error)


def families(stored: dict[bytes, bytes]) -> Iterator[Metric]:
    """The metric families in ``stored`` (the hash at ``KEY``), for a scrape."""
    counters: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    histograms: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)
    for raw_field, raw_value in stored.items():
        kind, name, pairs = json.loads(raw_field)
        labels, value = dict(pairs), float(raw_value)
        if kind == "counter":
            counters[name].append((labels, value))
            continue
        le = labels.pop("le", None)
        series = histograms[name].setdefault(
            tuple(sorted(labels.items())), {"buckets": {}, "sum": 0.0}
        )
        if kind == "bucket":
            series["buckets"][le] = value
        elif kind == "sum":
            series["sum"] = value
    for name, samples in sorted(counters.items()):
        label_names = sorted(samples[0][0])
        family = CounterMetricFamily(PREFIX + name, HELP.get(name, name), labels=label_names)
        for labels, value in samples:
            family.add_metric([labels[label] for label in label_names], value)
        yield family
    for name, all_series in sorted(histograms.items()):
        label_names = [label for label, _ in next(iter(all_series))]
        histogram = HistogramMetricFamily(PREFIX + name, HELP.get(name, name), labels=label_names)
        for key, series in all_series.items():
            cumulative, total = [], 0.0
            for bound in [*map(str, BUCKETS), "+Inf"]:
                total += series["buckets"].get(bound, 0.0)
                cumulative.append((bound, total))
            histogram.add_metric([value for _, value in key], cumulative, series["sum"])
        yield histogram


def stored(client: redis.Redis) -> dict[bytes, bytes]:
    return client.hgetall(KEY)  # type: ignore[return-value]
