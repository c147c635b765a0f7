import marshmallow as ma

from crm.documents import MessageStatus
from crm.schemas.base import BaseSchema
from crm.schemas.fields import ObjectIdString

FINAL = [MessageStatus.SENT.value, MessageStatus.FAILED.value]


class ReceiptSchema(BaseSchema):
    communication_log_id = ObjectIdString(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(FINAL))
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))


class ReceiptBatchSchema(BaseSchema):
    receipts = ma.fields.List(
        ma.fields.Nested(ReceiptSchema), required=True, validate=ma.validate.Length(1, 1000)
    )


class ReceiptsQueuedSchema(BaseSchema):
    queued = ma.fields.Integer(metadata={"description": "Receipts queued to be applied."})


class ReceiptResultSchema(BaseSchema):
    communication_log_id = ObjectIdString()
    status = ma.fields.Enum(MessageStatus)
    applied = ma.fields.Boolean()
