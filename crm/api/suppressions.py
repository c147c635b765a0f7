"""The suppression list: addresses no campaign sends to (``crm.services.suppressions``)."""

from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.suppression import (
    SuppressionBulkResultSchema,
    SuppressionBulkSchema,
    SuppressionQuerySchema,
    SuppressionSchema,
)
from crm.services import pages, suppressions

blp = Blueprint(
    "suppressions", __name__, url_prefix="/api/suppressions", description="Suppression list"
)
NOT_LISTED = "The address is not suppressed."


@blp.route("")
class Suppressions(MethodView):
    @blp.arguments(SuppressionQuerySchema, location="query")
    @blp.response(200, SuppressionSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List suppressed addresses in address order, a page at a time."""
        return respond(suppressions.page(pages.Request.take(query)))

    @blp.arguments(SuppressionSchema)
    @blp.response(201, SuppressionSchema, description="Added.")
    @blp.alt_response(
        200, schema=SuppressionSchema, description="Already suppressed: the entry as it was."
    )
    def post(self, data):
        """Suppress an address: campaigns skip every customer with it (in any case)."""
        entry, added = suppressions.add(data["address"], data.get("reason"))
        return entry, 201 if added else 200


@blp.route("/bulk", methods=["POST"])
@blp.arguments(SuppressionBulkSchema)
@blp.response(200, SuppressionBulkResultSchema)
def add_many(data):
    """Suppress up to 1,000 addresses at once (an import: send a file's addresses a
    thousand at a time); addresses already suppressed are left as they are."""
    addresses = data["addresses"]
    added = suppressions.add_many(addresses, data.get("reason"))
    return {"received": len({suppressions.normalise(a) for a in addresses}), "added": added}


@blp.route("/<string:address>")
class SuppressionByAddress(MethodView):
    @blp.response(200, SuppressionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description=NOT_LISTED)
    def get(self, address):
        """Whether an address is suppressed (in any case), and since when."""
        return suppressions.get(address)

    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description=NOT_LISTED)
    def delete(self, address):
        """Take an address off the list: campaigns materialised from now on send to it."""
        suppressions.remove(address)
