"""What an upload holds: customers or orders, checked by the single-record endpoints' own
schemas, carried on the queue as JSON primitives and stored in MongoDB's types."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import marshmallow as ma
from bson import Decimal128

from crm.schemas.customer import CustomerSchema
from crm.schemas.order import OrderSchema


@dataclass(frozen=True)
class Kind:
    name: str
    schema: ma.Schema
    key: str
    # Decimal fields: strings on the queue, Decimal128 in MongoDB.
    money: tuple[str, ...]
    # Day fields: "YYYY-MM-DD" on the queue, midnight UTC in MongoDB.
    days: tuple[str, ...]
    # CSV cells to read as integers (a CSV cell is always text).
    integers: tuple[str, ...] = ()
    # The field that collects CSV columns naming no field, or None: such a column is an error.
    extra_columns: str | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """The fields a CSV header may name."""
        return tuple(
            name
            for name, field in self.schema.fields.items()
            if not field.dump_only and name != self.extra_columns
        )

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(name for name, field in self.schema.fields.items() if field.required)

    def to_message(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """A validated record as JSON primitives, for a queue message."""
        message = dict(data)
        for name in self.money:
            if isinstance(message.get(name), Decimal):
                message[name] = str(message[name])
        for name in self.days:
            if isinstance(message.get(name), datetime):
                message[name] = message[name].date().isoformat()
        return message

    def to_document(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """A queued record in the types it is stored with."""
        document = dict(message)
        for name in self.money:
            if document.get(name) is not None:
                document[name] = Decimal128(document[name])
        for name in self.days:
            if document.get(name) is not None:
                document[name] = datetime.fromisoformat(document[name])
        return document


CUSTOMERS = Kind(
    name="customers",
    schema=CustomerSchema(),
    key="customer_id",
    money=("total_spends",),
    days=("last_visit_date",),
    integers=("visit_count",),
    extra_columns="attributes",
)
ORDERS = Kind(
    name="orders",
    schema=OrderSchema(),
    key="order_id",
    money=("order_amount",),
    days=("order_date",),
)
KINDS = {kind.name: kind for kind in (CUSTOMERS, ORDERS)}
