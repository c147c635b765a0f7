"""The vendor's public API: ``POST /messages``, ``POST /messages/lookup`` and a health check."""

import time

from flask import Blueprint, Response, request

from vendor_simulator.errors import error_response
from vendor_simulator.faults import Fault, FaultMode
from vendor_simulator.schemas import BatchSchema, LookupSchema
from vendor_simulator.simulator import current_simulator

blueprint = Blueprint("vendor", __name__)


@blueprint.post("/messages")
def send_messages() -> Response | dict:
    simulator = current_simulator()
    fault = simulator.begin_send()
    if (refusal := _refusal(fault)) is not None:
        return refusal
    batch = BatchSchema(simulator.max_batch).load(request.get_json())
    lose_receipts = fault.mode is FaultMode.DROP_RECEIPTS
    results = simulator.submit(batch["callback_url"], batch["messages"], lose_receipts)
    if fault.mode is FaultMode.TIMEOUT:
        time.sleep(fault.delay_seconds)
    return {"results": results}


@blueprint.post("/messages/lookup")
def lookup_messages() -> Response | dict:
    """Reconciliation: what the vendor knows of each key, and its outcome once it happened."""
    simulator = current_simulator()
    if (refusal := _refusal(simulator.begin_lookup())) is not None:
        return refusal
    keys = LookupSchema().load(request.get_json())["idempotency_keys"]
    return {"results": simulator.lookup(keys)}


@blueprint.get("/health")
def health() -> dict:
    return {"status": "ok"}


def _refusal(fault: Fault) -> Response | None:
    """The answer of a vendor that is down, or None when it takes the request."""
    if fault.mode is FaultMode.ERROR_500:
        return error_response(500, "Injected fault: the vendor is down.")
    if fault.mode is FaultMode.ERROR_429:
        response = error_response(429, "Injected fault: too many requests.")
        response.headers["Retry-After"] = str(fault.retry_after)
        return response
    if fault.mode is FaultMode.HANG:
        time.sleep(fault.delay_seconds)
        return error_response(503, "Injected fault: the vendor hung and took nothing.")
    return None
