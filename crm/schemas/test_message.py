import marshmallow as ma

from crm.documents import TestMessageStatus
from crm.schemas.base import MULTILINE, BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp, external_id

KEY_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"


class TestMessageSchema(BaseSchema):
    __test__ = False  # not a pytest class, whatever its name

    id = ObjectIdString(dump_only=True)
    idempotency_key = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(KEY_PATTERN, error="8 to 64 letters, digits, - or _."),
        metadata={
            "description": "Chosen by the sender, new for each test message and kept for its "
            "retries: a request with a key already used sends nothing and answers as the "
            "first did."
        },
    )
    customer_id = external_id(required=True, metadata={"description": "Who gets it."})
    message = ma.fields.String(
        required=True,
        validate=ma.validate.Length(1, 2000),
        metadata={"description": "A campaign message template.", MULTILINE: True},
    )
    to = ma.fields.String(dump_only=True)
    body = ma.fields.String(dump_only=True, metadata={"description": "The message as rendered."})
    status = ma.fields.Enum(
        TestMessageStatus,
        dump_only=True,
        metadata={
            "description": "ACCEPTED by the vendor; REFUSED by it (see reason); NOT_SENT: the "
            "vendor was unreachable and did not take it; UNKNOWN: it may have; SENDING: the "
            "first request with this key has not had the vendor's answer yet."
        },
    )
    reason = ma.fields.String(dump_only=True, allow_none=True)
    requested_by = ma.fields.String(dump_only=True, allow_none=True)
    created_at = Timestamp(dump_only=True)
    finished_at = Timestamp(dump_only=True, allow_none=True)
