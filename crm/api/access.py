"""Every request gets an id (``X-Request-ID``, kept from the client when it is a sane
token), one access log line and its metrics. Registered before any other hook, so even a
request refused by authentication has all three."""

import logging
import re
import time
import uuid

from flask import Flask, g, request
from werkzeug.wrappers import Response

from crm import logs
from crm.api import metrics

HEADER = "X-Request-ID"
SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

log = logging.getLogger("crm.access")


def init_app(app: Flask) -> None:
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_end)


def _begin() -> None:
    given = request.headers.get(HEADER, "")
    request_id = given if SANE_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_id_token = logs.request_id.set(request_id)
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    request_id = logs.request_id.get()
    if request_id is None:  # a hook registered before ours answered first
        return response
    seconds = time.perf_counter() - g.request_started
    route = route_template()
    response.headers[HEADER] = request_id
    metrics.observe_request(request.method, route, response.status_code, seconds)
    log.info(
        "%s %s %d %.1fms",
        request.method,
        route,
        response.status_code,
        seconds * 1000,
        extra={
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
    return response


def _end(_: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        logs.request_id.reset(token)


def route_template() -> str:
    """``/api/campaign/{campaign_id}``, never the id itself; unmatched paths are one label."""
    if request.url_rule is None:
        return "unmatched"
    return CONVERTER.sub(r"{\1}", request.url_rule.rule)
