import marshmallow as ma

from crm.documents.api_key import SCOPES
from crm.schemas.base import BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp


class Scope(ma.fields.String):
    """A key's scope; keys from before scopes existed are admin keys."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(value or "admin", attr, obj, **kwargs)


class ApiKeySchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 100))
    scope = Scope(
        load_default="read",
        validate=ma.validate.OneOf(SCOPES),
        metadata={
            "description": "admin: every operation, API keys included; write: every other "
            "operation; read: GET and HEAD only. Default: read."
        },
    )
    prefix = ma.fields.String(dump_only=True, metadata={"description": "Identifies the key."})
    created_at = Timestamp(dump_only=True)
    last_used_at = Timestamp(dump_only=True, allow_none=True)
    revoked_at = Timestamp(dump_only=True, allow_none=True)


class NewApiKeySchema(ApiKeySchema):
    key = ma.fields.String(
        dump_only=True,
        metadata={"description": "The key itself. Shown this once; only its hash is kept."},
    )
