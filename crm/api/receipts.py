"""The vendor's delivery receipts (the paths the seed README gives)."""

from flask_smorest.error_handler import ErrorSchema
from redis.exceptions import RedisError

from crm.api.blueprint import Blueprint
from crm.queue.handles import APPLY_RECEIPTS
from crm.schemas.receipt import (
    ReceiptBatchSchema,
    ReceiptResultSchema,
    ReceiptSchema,
    ReceiptsQueuedSchema,
)
from crm.services import campaigns
from crm.services.errors import NotFound, QueueUnavailable
from crm.services.sending import receipts

VENDOR_SIGNED: list[dict[str, list[str]]] = [{"vendorSignature": []}]

blp = Blueprint(
    "receipts", __name__, url_prefix="/api/sendCampaign", description="Delivery receipts"
)


@blp.route("/deliveryReceipt", methods=["POST"])
@blp.doc(security=VENDOR_SIGNED)
@blp.arguments(ReceiptSchema)
@blp.response(200, ReceiptResultSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No communication log has that id.")
def delivery_receipt(receipt):
    """Apply one delivery receipt; a duplicate or late one changes nothing (applied: false)."""
    outcome = receipts.apply([receipt], hold_early=False)
    if outcome.unknown:
        raise NotFound(f"No communication log with id {receipt['communication_log_id']}.")
    log = campaigns.log(receipt["communication_log_id"])
    return {"communication_log_id": log.id, "status": log.status, "applied": outcome.applied == 1}


@blp.route("/deliveryReceipts", methods=["POST"])
@blp.doc(security=VENDOR_SIGNED)
@blp.arguments(ReceiptBatchSchema)
@blp.response(202, ReceiptsQueuedSchema)
@blp.alt_response(
    503, schema=ErrorSchema, description="The queue is unreachable; send the batch again."
)
def delivery_receipts(batch):
    """Queue up to 1,000 receipts to be applied; returns before any is applied.

    Duplicate and late receipts are accepted and change nothing when applied; receipts for
    ids matching no log are logged by the worker and ignored.
    """
    try:
        APPLY_RECEIPTS.send(
            [
                {**r, "communication_log_id": str(r["communication_log_id"])}
                for r in batch["receipts"]
            ]
        )
    except RedisError:
        raise QueueUnavailable("The receipt queue is unreachable; send the batch again.") from None
    return {"queued": len(batch["receipts"])}
