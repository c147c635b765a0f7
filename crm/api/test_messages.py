"""A campaign message tried on one customer (``crm.services.test_messages``)."""

from flask import current_app, g
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.schemas.test_message import TestMessageSchema
from crm.services import test_messages

blp = Blueprint("test_messages", __name__, url_prefix="/api", description="Test messages")


@blp.route("/testMessages", methods=["POST"])
@blp.arguments(TestMessageSchema)
@blp.response(200, TestMessageSchema, description="Sent now, or found under its key.")
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="The key was used for another customer or text; or the customer opted out, "
    "their address is suppressed, or they are at the frequency cap (nothing is sent).",
)
@blp.alt_response(503, schema=ErrorSchema, description="The vendor's address is not configured.")
def send_test_message(data):
    """Send a message, rendered for one customer, through the vendor once per idempotency
    key; it belongs to no campaign (no log, no counts)."""
    settings = current_app.config["CRM_SETTINGS"]
    vendor = test_messages.Vendor(
        settings.vendor_url, settings.public_url, settings.vendor_timeout_seconds
    )
    sent = test_messages.send(
        data["idempotency_key"],
        data["customer_id"],
        data["message"],
        vendor,
        f"API key {g.api_key.name}",
    )
    return {name: sent[name] for name in sent._fields} | {"idempotency_key": sent.key}
