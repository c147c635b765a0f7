"""Request bodies the simulator accepts; anything else is a 400 or 422."""

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from vendor_simulator.faults import Fault, FaultMode

MAX_LOOKUP_KEYS = 1000


def _idempotency_key() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=64))


class MessageSchema(Schema):
    idempotency_key = _idempotency_key()
    # An empty recipient is not malformed: the vendor answers it with ``rejected``.
    to = fields.String(required=True)
    body = fields.String(required=True)


class BatchSchema(Schema):
    callback_url = fields.Url(required=True, require_tld=False, schemes={"http", "https"})
    messages = fields.List(fields.Nested(MessageSchema), required=True)

    def __init__(self, max_batch: int, **kwargs: Any):
        super().__init__(**kwargs)
        self.max_batch = max_batch

    @validates("messages")
    def validate_batch_size(self, messages: list, data_key: str) -> None:
        if len(messages) > self.max_batch:
            raise ValidationError(f"At most {self.max_batch} messages per request.")


class LookupSchema(Schema):
    idempotency_keys = fields.List(
        _idempotency_key(), required=True, validate=validate.Length(min=1, max=MAX_LOOKUP_KEYS)
    )


class FaultSchema(Schema):
    mode = fields.Enum(FaultMode, by_value=True, required=True)
    # How many of the following requests the fault meets, and for how many seconds from now;
    # null means until changed.
    requests = fields.Integer(allow_none=True, validate=validate.Range(min=1))
    seconds = fields.Float(allow_none=True, validate=validate.Range(min=0, min_inclusive=False))
    retry_after = fields.Integer(validate=validate.Range(min=0))
    delay_seconds = fields.Float(validate=validate.Range(min=0))

    @post_load
    def make_fault(self, data: dict, **kwargs: Any) -> Fault:
        return Fault(**data)
