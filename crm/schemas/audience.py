"""Audiences. ``logic`` and ``rules`` are the root group of the stored rule tree; the
schema checks only that much of its shape: its nodes are checked by the audience
services (``crm.services.segments``), which name each problem by path."""

from datetime import datetime, time
from typing import Any

import marshmallow as ma
from bson import Decimal128

from crm.schemas.base import BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp, utc_iso

RULES_HELP = (
    "Rules and groups, nested up to 8 deep and 200 in all. A rule is "
    '`{"field", "operator", "value"}` plus optional `ignore_case` (text) or `within_days` '
    '(orders.count, orders.total); a group is `{"logic": "AND" | "OR" | "NOT", "rules": '
    "[...]}`, NOT matching customers who match none of its rules. GET /api/audiences/fields "
    "lists the fields and their operators."
)
RULES_EXAMPLE = [
    {"field": "total_spends", "operator": ">", "value": 10000},
    {
        "logic": "OR",
        "rules": [
            {"field": "visit_count", "operator": "<", "value": 3},
            {"field": "last_visit_date", "operator": "older_than_days", "value": 90},
        ],
    },
    {"field": "orders.count", "operator": ">=", "value": 2, "within_days": 180},
]


def logic_field(**kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        attribute="rules.logic",
        metadata={"description": "How the rules combine: AND, OR or NOT.", "example": "AND"},
        **kwargs,
    )


def rules_field(**kwargs: Any) -> ma.fields.List:
    # At least one rule: an empty tree would be an audience of every customer by accident.
    metadata = {"description": RULES_HELP, "example": RULES_EXAMPLE}
    return ma.fields.List(
        ma.fields.Raw(),
        attribute="rules.rules",
        validate=ma.validate.Length(min=1, error="At least one rule or group."),
        metadata=metadata,
        **kwargs,
    )


class RuleTreeSchema(BaseSchema):
    """Loads as ``{"rules": {"logic": ..., "rules": [...]}}``: the tree segments expects."""

    logic = logic_field(load_default="AND")
    rules = rules_field(required=True)


class AudienceSchema(RuleTreeSchema):
    id = ObjectIdString(dump_only=True)
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 200))
    summary = ma.fields.String(dump_only=True, metadata={"description": "The rules in words."})
    size = ma.fields.Integer(dump_only=True, metadata={"description": "Members when computed."})
    computed_at = Timestamp(dump_only=True)
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class AudienceUpdateSchema(BaseSchema):
    """Any of name, logic and rules, at least one; changed rules are counted again."""

    class Meta(BaseSchema.Meta):
        openapi = {"minProperties": 1}

    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 200))
    logic = logic_field()
    rules = rules_field()

    @ma.validates_schema
    def something_to_change(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give at least one of name, logic and rules.")


class SampleValue(ma.fields.Field):
    """A customer's value as JSON: money as a number, a day as ``YYYY-MM-DD``."""

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, Decimal128):
            return float(value.to_decimal())
        if isinstance(value, datetime):
            return value.date().isoformat() if value.time() == time.min else utc_iso(value)
        return value


class PreviewSchema(BaseSchema):
    size = ma.fields.Integer(metadata={"description": "Customers matching now."})
    sample = ma.fields.List(
        ma.fields.Dict(keys=ma.fields.String(), values=SampleValue()),
        metadata={"description": "The first 10: name, email and the fields the rules use."},
    )
    summary = ma.fields.String()


class FieldInfoSchema(BaseSchema):
    field = ma.fields.String()
    type = ma.fields.String()
    operators = ma.fields.List(ma.fields.String())
    takes_within_days = ma.fields.Boolean()
    description = ma.fields.String()


class AttributeInfoSchema(BaseSchema):
    field = ma.fields.String(metadata={"example": "attributes.city"})
    types = ma.fields.List(ma.fields.String(), metadata={"description": "Types seen in data."})


class CatalogSchema(BaseSchema):
    # Not named ``fields``: a marshmallow schema keeps its own fields under that name.
    rule_fields = ma.fields.List(
        ma.fields.Nested(FieldInfoSchema), data_key="fields", attribute="fields"
    )
    attributes = ma.fields.List(ma.fields.Nested(AttributeInfoSchema))
