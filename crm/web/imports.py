"""Bulk imports from the console: upload a file of customers or orders, then watch the job
the same intake service as ``POST /api/customers/bulk`` creates."""

from typing import Any

from bson import ObjectId
from flask import (
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from redis.exceptions import RedisError

from crm.documents import Ingestion, IngestionStatus
from crm.queue.handles import enqueue_import_chunk
from crm.services import csv_cells
from crm.services.errors import DomainError, status_of
from crm.services.ingestion import intake, jobs, preview
from crm.services.ingestion.formats import Upload, detect
from crm.services.ingestion.kinds import CUSTOMERS, ORDERS
from crm.web import form_keys
from crm.web.access import requires
from crm.web.blueprint import blp, explain, flash_error

KINDS = {"customers": CUSTOMERS, "orders": ORDERS}
RECENT = 20
SETTLED = (IngestionStatus.DONE, IngestionStatus.FAILED)


@blp.before_request
def _upload_limit() -> None:
    # Set before the access check reads the form, so a large upload stops at the limit.
    if request.endpoint == "console.import_upload":
        request.max_content_length = current_app.config["CRM_SETTINGS"].max_upload_bytes
    elif request.endpoint == "console.import_preview":
        request.max_content_length = 2 * preview.MAX_BYTES


@blp.route("/imports")
@form_keys.keyed
def import_list():
    recent = Ingestion.objects.order_by("-created_at").limit(RECENT)
    return render_template(
        "imports.html",
        imports=recent,
        kinds=list(KINDS),
        preview_bytes=preview.MAX_BYTES,
        form_key=form_keys.shown(),
    )


@blp.route("/imports", methods=["POST"])
@requires("marketer")
def import_upload():
    """Start the import of the uploaded file, once per form key (``crm.web.form_keys``)."""
    form_key = form_keys.posted()
    if form_key is None:
        flash(form_keys.OUT_OF_DATE, "warning")
        return redirect(url_for("console.import_list"))
    made = jobs.find(form_key)
    if made is not None:
        flash("This form started its import already: here it is.", "info")
        return redirect(url_for("console.import_page", ingestion_id=made.id))
    again = url_for("console.import_list", form=form_key)
    kind = KINDS.get(request.form.get("kind", ""))
    upload = request.files.get("file")
    if kind is None or upload is None or not upload.filename:
        flash("Pick what the file holds and a file to upload.", "danger")
        return redirect(again)
    settings = current_app.config["CRM_SETTINGS"]
    try:
        job = intake.receive(
            kind,
            Upload(upload.stream, detect(upload.mimetype, upload.filename, None)),
            enqueue_import_chunk,
            settings.ingest_chunk_size,
            upload.filename,
            chunk_bytes=settings.ingest_chunk_bytes,
            job_id=form_key,
        )
    except DomainError as error:
        flash_error(error)
        return redirect(again)
    except RedisError:
        flash("The import queue is unreachable; upload again shortly.", "danger")
        return redirect(url_for("console.import_list"))
    return redirect(url_for("console.import_page", ingestion_id=job.id))


@blp.route("/imports/preview", methods=["POST"])
@requires("marketer")
def import_preview():
    """The columns and first rows of a file's start as the import would take them (HTML,
    shown by the upload form before the import starts)."""
    kind = KINDS.get(request.form.get("kind", ""))
    upload = request.files.get("file")
    if kind is None or upload is None:
        problem = "Pick a file and what it holds."
        return render_template("_import_preview.html", problem=problem), 422
    try:
        fmt = detect(upload.mimetype, upload.filename, None)
        found = preview.preview(kind, upload.stream, fmt, request.form.get("complete") == "true")
    except DomainError as error:
        return render_template("_import_preview.html", problem=explain(error)), status_of(error)
    return render_template("_import_preview.html", preview=found, kind=kind.name)


@blp.route("/imports/<objectid:ingestion_id>")
def import_page(ingestion_id: ObjectId):
    report = _report(ingestion_id)
    return render_template("import.html", job=report, settled=report["status"] in SETTLED)


@blp.route("/imports/<objectid:ingestion_id>/rejected.csv")
@requires("marketer")
def import_rejections_csv(ingestion_id: ObjectId):
    """Every row the import rejected, with the value refused and why (customer data:
    marketers and admins only)."""
    job = jobs.get(ingestion_id)
    body = csv_cells.stream(jobs.REJECTION_COLUMNS, jobs.rejection_lines(job))
    headers = {"Content-Disposition": f'attachment; filename="import-{job.id}-rejected.csv"'}
    return Response(stream_with_context(body), mimetype="text/csv", headers=headers)


@blp.route("/imports/<objectid:ingestion_id>/progress")
def import_progress(ingestion_id: ObjectId):
    report = _report(ingestion_id)
    return jsonify(
        status=report["status"].value,
        counts=report["counts"],
        progress=report["progress"],
        rejections=report["rejections"],
        error=report["error"],
    )


def _report(ingestion_id: ObjectId) -> dict[str, Any]:
    return jobs.report(jobs.get(ingestion_id))
