"""The dashboard, the customers table and a customer's profile."""

from typing import Any

from flask import render_template, request

from crm.documents import Customer, Order
from crm.services import campaigns, customers, orders, pages, suppressions, timelines
from crm.services.errors import DomainError
from crm.web import charts
from crm.web.blueprint import blp, explain

PAGE_SIZE = 25


@blp.route("")
@blp.route("/")
def home():
    return render_template(
        "home.html",
        customer_count=Customer._get_collection().estimated_document_count(),
        order_count=Order._get_collection().estimated_document_count(),
        recent=campaigns.with_stats(list(campaigns.newest_first().limit(5))),
        **_trends(),
    )


def _trends() -> dict[str, Any]:
    """The dashboard's charts: one aggregation for orders and revenue, one for customers."""
    trends: dict[str, Any] = {"trends_problem": ""}
    try:
        days = timelines.orders_by_day()
        new = timelines.new_customers_by_day()
    except DomainError as error:
        return {"trends_problem": explain(error)}
    trends["customers_chart"] = charts.daily(
        "New customers a day (first order)", new, "customers", "New customers"
    )
    trends["orders_chart"] = charts.daily("Orders a day", days, "orders", "Orders")
    trends["revenue_chart"] = charts.daily("Revenue a day", days, "revenue", "Revenue", money=True)
    return trends


@blp.route("/customers")
def customer_list():
    query = request.args.get("q", "").strip()
    after = request.args.get("after") or None
    wanted = pages.Request(page_size=PAGE_SIZE, after=after)
    page = customers.search(wanted, query) if query else customers.page(wanted)
    return render_template("customers.html", page=page, q=query)


@blp.route("/customers/<extid:customer_id>")
def customer_profile(customer_id: str):
    customer = customers.get(customer_id)
    return render_template(
        "customer.html",
        customer=customer,
        suppression=suppressions.find(customer.email) if customer.email else None,
        orders=orders.page(pages.Request(page_size=50), customer_id=customer_id).items,
        messages=customers.messages(customer_id),
    )
