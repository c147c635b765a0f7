"""Bulk imports: customers or orders uploaded as CSV, a JSON array or NDJSON, read as a
stream, validated, and applied by workers; the job reports how it went."""

from typing import IO

from flask import Response, current_app, request, stream_with_context, url_for
from flask_smorest.error_handler import ErrorSchema
from redis.exceptions import RedisError

from crm.api.blueprint import Blueprint
from crm.api.errors import UPLOAD, at, located_in
from crm.queue.handles import enqueue_import_chunk
from crm.schemas.ingestion import IngestionSchema, UploadQuerySchema
from crm.services import csv_cells
from crm.services.errors import InvalidInput, Unavailable
from crm.services.ingestion import intake, jobs
from crm.services.ingestion.formats import Upload, detect
from crm.services.ingestion.kinds import CUSTOMERS, ORDERS, Kind

blp = Blueprint("ingestions", __name__, url_prefix="/api", description="Bulk import")


def _upload_body(record_schema: str) -> dict:
    text = {"type": "string", "format": "binary"}
    return {
        "required": True,
        "content": {
            "text/csv": {"schema": text},
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {"$ref": f"#/components/schemas/{record_schema}"},
                }
            },
            "application/x-ndjson": {"schema": text},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": text}, "required": ["file"]}
            },
        },
    }


def _documented(record_schema: str):
    """The responses every upload shares."""

    def decorate(view):
        for decorator in (
            blp.arguments(UploadQuerySchema, location="query"),
            blp.doc(requestBody=_upload_body(record_schema)),
            blp.response(
                202, IngestionSchema, description="Read and queued; poll the Location header."
            ),
            blp.alt_response(
                400, schema=ErrorSchema, description="Not UTF-8 text, or JSON broken on the way."
            ),
            blp.alt_response(413, schema=ErrorSchema, description="Larger than the upload limit."),
            blp.alt_response(415, schema=ErrorSchema, description="Not CSV, JSON or NDJSON."),
            blp.alt_response(
                422, schema=ErrorSchema, description="Empty, or a CSV header missing a column."
            ),
            blp.alt_response(503, schema=ErrorSchema, description="The queue is unreachable."),
        ):
            view = decorator(view)
        return view

    return decorate


@blp.route("/customers/bulk", methods=["POST"])
@_documented("Customer")
def import_customers(query):
    """Import customers: a CSV whose header names the fields (other columns become
    attributes), a JSON array or NDJSON of customer objects. A known customer_id is
    updated in the fields given."""
    return _receive(CUSTOMERS, query)


@blp.route("/orders/bulk", methods=["POST"])
@_documented("Order")
def import_orders(query):
    """Import orders: a CSV with order_id, customer_id, order_amount and order_date, a
    JSON array or NDJSON. Each applies to its customer once; an order whose customer is
    not there yet waits for it (parked) rather than being rejected."""
    return _receive(ORDERS, query)


@blp.route("/ingestions/<objectid:ingestion_id>", methods=["GET"])
@blp.response(200, IngestionSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No import has that id.")
def get_ingestion(ingestion_id):
    """An import's status, counts, progress and first rejected rows with their reasons."""
    return jobs.report(jobs.get(ingestion_id))


REJECTIONS_CSV = {
    "description": "One line per problem of each rejected row, by row: `row` (as in the "
    "job's rejections), `reason` (`invalid`, or `duplicate_in_file`: a customer_id an "
    "earlier row of the upload had, whose first row alone is imported), `field`, the "
    "`value` the upload gave it and the `message`. A cell that a spreadsheet would take "
    "for a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) is "
    "written with a `'` in front.",
    "content": {
        "text/csv": {
            "schema": {"type": "string"},
            "example": "row,reason,field,value,message\n"
            "4,duplicate_in_file,customer_id,c1,customer_id c1 is on row 2 already; "
            "only that row is imported.\n",
        }
    },
}


@blp.route("/ingestions/<objectid:ingestion_id>/rejections", methods=["GET"])
@blp.doc(responses={"200": REJECTIONS_CSV})
@blp.alt_response(404, schema=ErrorSchema, description="No import has that id.")
def get_ingestion_rejections(ingestion_id):
    """Every row an import rejected, as CSV: the value refused and why."""
    return rejections_csv(jobs.get(ingestion_id))


def rejections_csv(job) -> Response:
    body = csv_cells.stream(jobs.REJECTION_COLUMNS, jobs.rejection_lines(job))
    name = f"import-{job.id}-rejected.csv"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(stream_with_context(body), mimetype="text/csv", headers=headers)


@blp.route("/ingestions/<objectid:ingestion_id>/resume", methods=["POST"])
@blp.response(202, IngestionSchema)
@blp.alt_response(404, schema=ErrorSchema, description="No import has that id.")
@blp.alt_response(
    409, schema=ErrorSchema, description="The import is not FAILED, or cannot resume."
)
@blp.alt_response(503, schema=ErrorSchema, description="The queue is unreachable.")
def resume_ingestion(ingestion_id):
    """Take up a FAILED import again where it stopped: its chunks not yet applied are
    queued again, and none is applied twice. An import whose upload was never queued
    whole cannot resume (409): upload it again."""
    try:
        job = jobs.resume(ingestion_id, enqueue_import_chunk)
    except RedisError:
        raise Unavailable("The import queue is unreachable; resume again shortly.") from None
    location = url_for("ingestions.get_ingestion", ingestion_id=job.id)
    return jobs.report(job), 202, {"Location": location}


def _receive(kind: Kind, query: dict):
    settings = current_app.config["CRM_SETTINGS"]
    request.max_content_length = settings.max_upload_bytes
    stream, content_type, filename = _body()
    with located_in("headers"):
        upload = Upload(stream, detect(content_type, filename, query.get("format")))
    try:
        with located_in(UPLOAD):
            job = intake.receive(
                kind,
                upload,
                enqueue_import_chunk,
                settings.ingest_chunk_size,
                filename,
                chunk_bytes=settings.ingest_chunk_bytes,
            )
    except RedisError:
        raise Unavailable("The import queue is unreachable; upload again shortly.") from None
    location = url_for("ingestions.get_ingestion", ingestion_id=job.id)
    return jobs.report(job), 202, {"Location": location}


def _body() -> tuple[IO[bytes], str | None, str | None]:
    """The upload, raw or as the ``file`` of a form; its content type and file name."""
    if request.mimetype != "multipart/form-data":
        return request.stream, request.mimetype, None
    upload = request.files.get("file")
    if upload is None:
        missing = {"file": ["Missing data for required field."]}
        refused = InvalidInput("A form upload carries its file in the field 'file'.", missing)
        raise at("files", refused)
    return upload.stream, upload.mimetype, upload.filename
