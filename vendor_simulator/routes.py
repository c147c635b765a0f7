"""The vendor's public API: ``POST /messages`` and a health check."""

import time

from flask import Blueprint, Response, request

from vendor_simulator.errors import error_response
from vendor_simulator.faults import FaultMode
from vendor_simulator.schemas import BatchSchema
from vendor_simulator.simulator import current_simulator

blueprint = Blueprint("vendor", __name__)


@blueprint.post("/messages")
def send_messages() -> Response | dict:
    simulator = current_simulator()
    fault = simulator.begin_request()
    if fault.mode is FaultMode.ERROR_500:
        return error_response(500, "Injected fault: the vendor is down.")
    if fault.mode is FaultMode.ERROR_429:
        response = error_response(429, "Injected fault: too many requests.")
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    batch = BatchSchema(simulator.max_batch).load(request.get_json())
    results = simulator.submit(batch["callback_url"], batch["messages"])
    if fault.mode is FaultMode.TIMEOUT:
        time.sleep(fault.delay_seconds)
    return {"results": results}


@blueprint.get("/health")
def health() -> dict:
    return {"status": "ok"}
