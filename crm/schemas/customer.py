import marshmallow as ma

from crm.documents.customer import MAX_VISITS
from crm.schemas.base import BaseSchema
from crm.schemas.fields import Day, Money, Timestamp, external_id
from crm.schemas.pagination import ListQuerySchema
from crm.schemas.schedule import TimeZoneName

ATTRIBUTE_KEY = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class AttributeValue(ma.fields.Field):
    """A custom attribute: a string, a number or a boolean."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool | int | float) and value == value:  # NaN is not equal to itself
            return value
        if isinstance(value, str) and len(value) <= 256:
            return value
        raise ma.ValidationError(
            "Must be a string of at most 256 characters, a number or a boolean."
        )


class CustomerSchema(BaseSchema):
    customer_id = external_id(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    email = ma.fields.Email(required=True, validate=ma.validate.Length(max=254))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Regexp(r"^\+?[0-9 ()-]{4,32}$"))
    total_spends = Money()
    last_visit_date = Day(allow_none=True)
    visit_count = ma.fields.Integer(strict=True, validate=ma.validate.Range(0, MAX_VISITS))
    attributes = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(ATTRIBUTE_KEY)),
        values=AttributeValue(),
        validate=ma.validate.Length(max=50),
    )
    opted_out = ma.fields.Boolean(
        metadata={
            "description": "Opted out of campaigns: every campaign materialised while it "
            "is true gives the customer a SKIPPED log (reason opted_out) instead of a "
            "message. Set by the API, an import's opted_out column (true/false) or the "
            "customer's unsubscribe link; false opts back in.",
            "example": False,
        },
    )
    timezone = TimeZoneName(
        allow_none=True,
        metadata={
            "description": "IANA time zone name, for local send times and quiet hours "
            "(campaigns use their default zone for customers without one)."
        },
    )
    created_at = Timestamp(dump_only=True)
    updated_at = Timestamp(dump_only=True)


class CustomerPatchSchema(CustomerSchema):
    """Any of a customer's fields but its customer_id; at least one."""

    class Meta(CustomerSchema.Meta):
        exclude = ("customer_id",)
        openapi = {"minProperties": 1}

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)

    @ma.validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ma.ValidationError("Give at least one field to change.", "_schema")


class CustomerQuerySchema(ListQuerySchema):
    email = ma.fields.Email(metadata={"description": "Only the customer with this email."})
