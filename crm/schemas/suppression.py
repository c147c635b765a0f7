import marshmallow as ma

from crm.schemas.base import BaseSchema
from crm.schemas.fields import Timestamp
from crm.schemas.pagination import ListQuerySchema


class Address(ma.fields.Email):
    """An e-mail address, trimmed and lower-cased before it is checked."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = value.strip().lower()
        return super()._deserialize(value, attr, data, **kwargs)


def reason_field() -> ma.fields.String:
    return ma.fields.String(
        validate=ma.validate.Length(max=200),
        allow_none=True,
        metadata={"description": "Why: a bounce, a complaint, a request…", "example": "bounced"},
    )


class SuppressionSchema(BaseSchema):
    address = Address(
        required=True,
        validate=ma.validate.Length(max=254),
        metadata={
            "description": "An e-mail address, kept trimmed and in lower case: any "
            "customer with this address, in any case, gets SKIPPED logs (reason suppressed)."
        },
    )
    reason = reason_field()
    created_at = Timestamp(dump_only=True)


class SuppressionBulkSchema(BaseSchema):
    addresses = ma.fields.List(
        Address(validate=ma.validate.Length(max=254)),
        required=True,
        validate=ma.validate.Length(1, 1000),
        metadata={"description": "1 to 1,000 addresses; repeats and known ones are fine."},
    )
    reason = reason_field()


class SuppressionBulkResultSchema(BaseSchema):
    received = ma.fields.Integer(metadata={"description": "Distinct addresses, normalised."})
    added = ma.fields.Integer(metadata={"description": "Addresses that were not yet suppressed."})


class SuppressionQuerySchema(ListQuerySchema):
    """The suppression list in address order."""
