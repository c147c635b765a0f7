import marshmallow as ma

from crm.schemas.base import BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp


class ApiKeySchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    prefix = ma.fields.String(dump_only=True, metadata={"description": "Identifies the key."})
    created_at = Timestamp(dump_only=True)
    last_used_at = Timestamp(dump_only=True, allow_none=True)
    revoked_at = Timestamp(dump_only=True, allow_none=True)


class NewApiKeySchema(ApiKeySchema):
    key = ma.fields.String(
        dump_only=True,
        metadata={"description": "The key itself. Shown this once; only its hash is kept."},
    )
