from flask.views import MethodView
from flask_smorest import Blueprint
from flask_smorest.error_handler import ErrorSchema

from crm.api.pagination import QuerySetPage
from crm.schemas.order import OrderQuerySchema, OrderSchema
from crm.services import orders

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders")


@blp.route("")
class Orders(MethodView):
    @blp.arguments(OrderQuerySchema, location="query")
    @blp.response(200, OrderSchema(many=True))
    @blp.paginate(QuerySetPage)
    def get(self, query):
        """List orders, newest first (paginated; see the X-Pagination header)."""
        return orders.search(**query)

    @blp.arguments(OrderSchema)
    @blp.response(201, OrderSchema, description="Recorded and applied to its customer.")
    @blp.alt_response(200, schema=OrderSchema, description="Already recorded; nothing changed.")
    @blp.alt_response(
        409, schema=ErrorSchema, description="The order_id is taken by an order with other details."
    )
    def post(self, data):
        """Record an order: adds its amount to the customer's spend and counts a visit."""
        order, created = orders.record(data)
        return order, 201 if created else 200


@blp.route("/<external_id:order_id>")
class OrderById(MethodView):
    @blp.response(200, OrderSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No order has that order_id.")
    def get(self, order_id):
        """Get one order by order_id."""
        return orders.get(order_id)
