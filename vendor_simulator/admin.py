"""Test-only controls: inject faults, read counters, start afresh."""

from flask import Blueprint, request

from vendor_simulator.schemas import FaultSchema
from vendor_simulator.simulator import current_simulator

blueprint = Blueprint("admin", __name__, url_prefix="/admin")


@blueprint.post("/faults")
def set_fault() -> dict:
    fault = FaultSchema().load(request.get_json())
    current_simulator().set_fault(fault)
    return fault.to_json()


@blueprint.get("/stats")
def stats() -> dict:
    return current_simulator().stats()


@blueprint.get("/deliveries/<key>")
def deliveries(key: str) -> dict:
    return current_simulator().deliveries(key)


@blueprint.post("/reset")
def reset() -> tuple[str, int]:
    current_simulator().reset()
    return "", 204
