import marshmallow as ma

from crm.documents import IngestionStatus
from crm.documents.ingestion import FORMATS
from crm.schemas.base import BaseSchema
from crm.schemas.fields import ObjectIdString, Timestamp


class UploadQuerySchema(BaseSchema):
    format = ma.fields.String(
        validate=ma.validate.OneOf(FORMATS),
        metadata={"description": "The upload's format, when its Content-Type does not say."},
    )


class CountsSchema(BaseSchema):
    received = ma.fields.Integer(metadata={"description": "Records read from the upload."})
    valid = ma.fields.Integer(metadata={"description": "Records accepted: received less rejected."})
    rejected = ma.fields.Integer(
        metadata={
            "description": "Records refused: invalid, an order_id taken by another order, "
            "or an order whose customer never came."
        }
    )
    inserted = ma.fields.Integer(metadata={"description": "New customers or orders."})
    updated = ma.fields.Integer(metadata={"description": "Known customers the upload changed."})
    duplicates = ma.fields.Integer(
        metadata={
            "description": "Records that changed nothing: already there as they are, or a "
            "customer_id given again in the same upload (those rows are counted as rejected "
            "too, reason duplicate_in_file)."
        }
    )
    parked = ma.fields.Integer(
        metadata={"description": "Orders waiting for their customer to be created."}
    )


class ProgressSchema(BaseSchema):
    chunks = ma.fields.Integer(metadata={"description": "Queue messages the upload became."})
    chunks_done = ma.fields.Integer()
    percent = ma.fields.Float()


class RowErrorSchema(BaseSchema):
    field = ma.fields.String(metadata={"description": "The field, or _schema for the whole row."})
    value = ma.fields.String(
        metadata={
            "description": "What the upload gave the field, as text (at most 200 "
            "characters); absent when it gave none."
        }
    )
    message = ma.fields.String()


class RejectionSchema(BaseSchema):
    row = ma.fields.Integer(
        metadata={
            "description": "Line of a CSV (the header is line 1) or NDJSON upload; position "
            "of the element in a JSON array, from 1."
        }
    )
    reason = ma.fields.String(
        metadata={
            "description": "invalid (see errors), or duplicate_in_file: a customer_id an "
            "earlier row of the same upload had; only the first row of a customer is imported."
        }
    )
    errors = ma.fields.List(ma.fields.Nested(RowErrorSchema))


class IngestionSchema(BaseSchema):
    id = ObjectIdString(dump_only=True)
    kind = ma.fields.String(dump_only=True)
    format = ma.fields.String(dump_only=True)
    filename = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.Enum(IngestionStatus, dump_only=True)
    counts = ma.fields.Nested(CountsSchema, dump_only=True)
    progress = ma.fields.Nested(ProgressSchema, dump_only=True)
    rejections = ma.fields.List(
        ma.fields.Nested(RejectionSchema),
        dump_only=True,
        metadata={
            "description": "The first 100 rejected rows, by row; "
            "GET /api/ingestions/{id}/rejections downloads them all as CSV."
        },
    )
    error = ma.fields.String(dump_only=True, allow_none=True)
    created_at = Timestamp(dump_only=True)
    started_at = Timestamp(dump_only=True, allow_none=True)
    finished_at = Timestamp(dump_only=True, allow_none=True)
