from flask.views import MethodView
from flask_smorest.error_handler import ErrorSchema

from crm.api.blueprint import Blueprint
from crm.api.pagination import PAGE_HEADERS, respond
from crm.schemas.customer import CustomerPatchSchema, CustomerQuerySchema, CustomerSchema
from crm.services import customers, pages

blp = Blueprint("customers", __name__, url_prefix="/api/customers", description="Customers")


@blp.route("")
class Customers(MethodView):
    @blp.arguments(CustomerQuerySchema, location="query")
    @blp.response(200, CustomerSchema(many=True), headers=PAGE_HEADERS)
    def get(self, query):
        """List customers by customer_id, a page at a time (see the Link and X-Pagination
        headers); the total is estimated unless count=true."""
        return respond(customers.page(pages.Request.take(query), **query))

    @blp.arguments(CustomerSchema)
    @blp.response(201, CustomerSchema, description="Created.")
    @blp.alt_response(200, schema=CustomerSchema, description="Updated: the customer_id existed.")
    def post(self, data):
        """Add a customer, or update the one with the same customer_id."""
        customer, created = customers.upsert(data)
        return customer, 201 if created else 200


@blp.route("/<extid:customer_id>")
class CustomerById(MethodView):
    @blp.response(200, CustomerSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No customer has that customer_id.")
    def get(self, customer_id):
        """Get one customer by customer_id."""
        return customers.get(customer_id)

    @blp.arguments(CustomerPatchSchema)
    @blp.response(200, CustomerSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="No customer has that customer_id.")
    def patch(self, data, customer_id):
        """Change some of a customer's fields, e.g. `{"opted_out": true}` to opt them out of
        campaigns (false opts them back in); `attributes`, if given, replaces them all."""
        return customers.update(customer_id, data)
