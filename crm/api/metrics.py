"""``GET /metrics`` in Prometheus text format: the API's requests, the workers' messages,
the domain's figures and the queues' depths.

Under gunicorn, every worker process writes its request metrics to files in
``PROMETHEUS_MULTIPROC_DIR`` (``gunicorn.conf.py`` sets one up) and a scrape adds them
up, whichever process serves it. Worker and domain figures are read at scrape time:
from Redis (``crm.metrics``, queue lengths) and with one aggregation over campaigns.
"""

import hmac
import logging
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from crm import config, metrics
from crm.api.errors import handle_domain_error
from crm.documents import CampaignStatus, MessageStatus
from crm.queue import broker
from crm.services import totals
from crm.services.errors import Forbidden, Unauthorized

log = logging.getLogger(__name__)
blp = Blueprint("metrics", __name__)

REQUESTS = Counter(
    "crm_http_requests", "HTTP requests served, by route template.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "crm_http_request_duration_seconds",
    "Time to serve an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


# Labels take a bounded set of values: a client choosing its method (any token will do
# over HTTP) must not add a series per request. Routes are templates, statuses the app's.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


@blp.route("/metrics")
def scrape():
    settings = current_app.config["CRM_SETTINGS"]
    token = settings.metrics_token
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and not (scheme.lower() == "bearer" and hmac.compare_digest(presented.strip(), token)):
        body, status = handle_domain_error(Unauthorized("/metrics needs its bearer token."))
        return body, status, {"WWW-Authenticate": "Bearer"}
    if not token and not settings.metrics_open:
        closed = Forbidden(
            "/metrics is closed: set CRM_METRICS_TOKEN and scrape with it as a bearer token, "
            "or CRM_METRICS_OPEN=true to serve it to anyone who reaches the API."
        )
        return handle_domain_error(closed)
    registry = CollectorRegistry()
    if config.prometheus_multiproc_dir():
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(_ReadAtScrape(broker.redis_client()))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


class _ThisProcess:
    """The request metrics of a single-process server (tests, ``flask run``)."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


class _ReadAtScrape:
    def __init__(self, redis) -> None:
        self.redis = redis

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "crm_metrics_source_up", "Whether a scrape could read a source.", labels=["source"]
        )
        for source, read in (("redis", self._from_redis), ("mongodb", self._from_mongodb)):
            try:
                yield from list(read())
                up.add_metric([source], 1)
            except Exception as error:  # the rest of the scrape is still worth serving
                log.warning("metrics: %s unreadable: %s", source, error)
                up.add_metric([source], 0)
        yield up

    def _from_redis(self) -> Iterator[Metric]:
        queues = sorted(broker.get().get_declared_queues())
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(metrics.KEY)
        for queue in queues:
            pipe.llen(f"dramatiq:{queue}")
            pipe.llen(f"dramatiq:{queue}.DQ")
            pipe.zcard(f"dramatiq:{queue}.XQ")
        stored, *lengths = pipe.execute()
        yield from metrics.families(stored)
        depth = GaugeMetricFamily(
            "crm_queue_messages",
            "Messages in a Dramatiq queue: ready, delayed (retries, held receipts) or dead.",
            labels=["queue", "state"],
        )
        for i, queue in enumerate(queues):
            for state, length in zip(
                ("ready", "delayed", "dead"), lengths[3 * i : 3 * i + 3], strict=True
            ):
                depth.add_metric([queue, state], length)
        yield depth

    def _from_mongodb(self) -> Iterator[Metric]:
        campaigns = GaugeMetricFamily("crm_campaigns", "Campaigns by status.", labels=["status"])
        messages = GaugeMetricFamily(
            "crm_messages",
            "Messages by status, summed over the counts campaigns keep.",
            labels=["status"],
        )
        grouped = totals.by_campaign_status()
        for campaign_status in CampaignStatus:
            campaigns.add_metric([campaign_status.value], grouped.get(campaign_status, (0,))[0])
        for status in MessageStatus:
            n = sum(by_status[status] for _, by_status in grouped.values())
            messages.add_metric([status.value], n)
        yield campaigns
        yield messages
