import marshmallow as ma

from crm.documents.customer import MAX_MONEY
from crm.schemas.base import BaseSchema
from crm.schemas.fields import Day, Money, Timestamp, external_id
from crm.schemas.pagination import ListQuerySchema


class OrderSchema(BaseSchema):
    order_id = external_id(required=True)
    customer_id = external_id(required=True)
    order_amount = Money(
        required=True, validate=ma.validate.Range(0, MAX_MONEY, min_inclusive=False)
    )
    order_date = Day(required=True)
    created_at = Timestamp(dump_only=True)


class OrderQuerySchema(ListQuerySchema):
    customer_id = external_id(metadata={"description": "Only this customer's orders."})
