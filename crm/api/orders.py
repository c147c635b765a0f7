from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.order import OrderQuerySchema, OrderSchema
from crm.services import orders, pages

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders")


@blp.route("")
class Orders(MethodView):
    @blp.arguments(OrderQuerySchema, location="query")
    @blp.response(200, OrderSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List orders, newest first, a page at a time (see the Link and X-Pagination
        headers); the total is estimated unless count=true."""
        return respond(orders.page(pages.Request.take(query), **query))

    @blp.arguments(OrderSchema)
    @blp.response(201, OrderSchema, description="Recorded and applied to its customer.")
    @blp.alt_response(200, schema=OrderSchema, description="Already recorded; nothing changed.")
    @blp.alt_response(
        409,
        schema=ErrorSchema,
        description="The order_id is taken by an order with other details, or the order "
        "would take its customer's total_spends or visit_count past their maximum.",
    )
    def post(self, data):
        """Record an order: adds its amount to the customer's spend and counts a visit."""
        order, created = orders.record(data)
        return order, 201 if created else 200


@blp.route("/<extid:order_id>")
class OrderById(MethodView):
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No order has that order_id.")
    def get(self, order_id):
        """Get one order by order_id."""
        return orders.get(order_id)
