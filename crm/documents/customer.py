from decimal import Decimal

from mongoengine import (
    BooleanField,
    DateTimeField,
    Decimal128Field,
    DictField,
    Document,
    EmailField,
    IntField,
    StringField,
)

from crm.clock import utcnow

# The most a customer may spend in all, and visit, as the API documents them.
MAX_MONEY = Decimal("1000000000000")
MAX_VISITS = 10_000_000
# The longest order window an audience rule may name (``within_days``): older order
# days are dropped from a customer's ``order_days``.
MAX_WINDOW_DAYS = 3_650


class Customer(Document):
    customer_id = StringField(required=True, unique=True, max_length=64)
    name = StringField(required=True, max_length=200)
    email = EmailField(required=True, max_length=254)
    phone = StringField(max_length=32)
    total_spends = Decimal128Field(default=0, precision=2)
    last_visit_date = DateTimeField()
    visit_count = IntField(default=0, min_value=0)
    attributes = DictField()
    # Opted out of campaigns (the API, an import column or an unsubscribe link): each
    # campaign materialised while it is set gives the customer a SKIPPED log.
    opted_out = BooleanField(default=False)
    # An IANA time zone name (Europe/Berlin), for local send times and quiet hours.
    timezone = StringField(max_length=64)
    # Maintained by crm.services.order_facts with each order, for audience rules: the
    # first and last order days, all-time order count and amount, and
    # {"YYYY-MM-DD": {count, amount}} for each order day of the last MAX_WINDOW_DAYS
    # (and any later day), so that "orders in the last N days" is a filter on customers
    # rather than a join, and a customer's document stays bounded however many orders
    # it has.
    first_order_date = DateTimeField()
    last_order_date = DateTimeField()
    order_count = IntField()
    order_total = Decimal128Field(precision=2)
    order_days = DictField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "customers",
        # Documents not yet rebuilt by `db rebuild-order-facts` still hold order_history.
        "strict": False,
        "indexes": [
            "total_spends",
            "visit_count",
            "last_visit_date",
            "email",
            "first_order_date",
            "last_order_date",
        ],
    }
