"""The dashboard, the customers table and a customer's profile."""

from flask import render_template, request

from crm.documents import Customer, Order
from crm.services import campaigns, customers, orders, pages
from crm.services.errors import DomainError
from crm.web.blueprint import blp, explain, status_of

PAGE_SIZE = 25


@blp.route("")
@blp.route("/")
def home():
    return render_template(
        "home.html",
        customer_count=Customer._get_collection().estimated_document_count(),
        order_count=Order._get_collection().estimated_document_count(),
        recent=campaigns.with_stats(list(campaigns.newest_first().limit(5))),
    )


@blp.route("/customers")
def customer_list():
    query = request.args.get("q", "").strip()
    after = request.args.get("after") or None
    wanted = pages.Request(page_size=PAGE_SIZE, after=after)
    try:
        page = customers.search(wanted, query) if query else customers.page(wanted)
    except DomainError as error:
        return render_template("error.html", message=explain(error)), status_of(error)
    return render_template("customers.html", page=page, q=query)


@blp.route("/customers/<extid:customer_id>")
def customer_profile(customer_id: str):
    try:
        customer = customers.get(customer_id)
    except DomainError as error:
        return render_template("error.html", message=explain(error)), status_of(error)
    return render_template(
        "customer.html",
        customer=customer,
        orders=orders.page(pages.Request(page_size=50), customer_id=customer_id).items,
        messages=customers.messages(customer_id),
    )
