from datetime import datetime, timedelta

import marshmallow as ma

from crm.clock import utcnow
from crm.documents.customer import MAX_MONEY
from crm.schemas.base import BaseSchema
from crm.schemas.fields import Day, Money, Timestamp, external_id
from crm.schemas.pagination import ListQuerySchema

# Orders are recorded once placed: a day past today (UTC) allows for the customer's own
# time zone. Refusing later days keeps a customer's order days bounded (see order_facts).
DAYS_AHEAD_ALLOWED = 1


def placed_by_now(day: datetime) -> None:
    latest = utcnow().date() + timedelta(days=DAYS_AHEAD_ALLOWED)
    if day.date() > latest:
        raise ma.ValidationError(
            f"Must be on or before {latest.isoformat()} (today in UTC, plus one day): "
            "an order is recorded once placed."
        )


class OrderSchema(BaseSchema):
    order_id = external_id(required=True)
    customer_id = external_id(required=True)
    order_amount = Money(
        required=True, validate=ma.validate.Range(0, MAX_MONEY, min_inclusive=False)
    )
    order_date = Day(
        required=True,
        validate=placed_by_now,
        metadata={"description": "The day it was placed: at most one day after today (UTC)."},
    )
    created_at = Timestamp(dump_only=True)


class OrderQuerySchema(ListQuerySchema):
    customer_id = external_id(metadata={"description": "Only this customer's orders."})
