from mongoengine import DateTimeField, Decimal128Field, Document, StringField

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
