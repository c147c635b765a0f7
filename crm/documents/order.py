from mongoengine import DateTimeField, Decimal128Field, Document, IntField, StringField

from crm.clock import utcnow


class Order(Document):
    order_id = StringField(required=True, unique=True, max_length=64)
    customer_id = StringField(required=True, max_length=64)
    order_amount = Decimal128Field(required=True, precision=2)
    order_date = DateTimeField(required=True)
    created_at = DateTimeField(default=utcnow)

    meta = {
        "collection": "orders",
        # Both serve the list, newest first, whole or one customer's (and its pages).
        "indexes": [("-order_date", "-_id"), ("customer_id", "-order_date", "-_id")],
    }


# The days whose totals are kept for the dashboard: its 90 and the one before, for the
# orders that commit just after midnight.
KEPT_DAYS = 91


class OrderDayTotals(Document):
    """A past day's orders and revenue as counted by the count begun at ``started_at``
    (``crm.store.order_days``)."""

    day = DateTimeField(primary_key=True)
    orders = IntField(required=True)
    revenue = Decimal128Field(required=True, precision=2)
    started_at = DateTimeField(required=True)

    meta = {"collection": "order_day_totals"}


class OrderDayMark(Document):
    """Orders of ``day`` were written (in their transaction) since its totals were counted."""

    day = DateTimeField(required=True)
    at = DateTimeField(required=True)

    meta = {
        "collection": "order_day_marks",
        # Marks of days that left the dashboard are never read again.
        "indexes": ["day", {"fields": ["at"], "expireAfterSeconds": (KEPT_DAYS + 1) * 86400}],
    }
